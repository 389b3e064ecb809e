"""The live-call guard in every test it covers: the 1st, the 500th, in an xdist worker,
and the advice that fits a test without a cassette to record into."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import make_project

MANY = """
import urllib.request

import pytest

from replaycodegen.guard import LiveCallBlocked

# each test catches its blocked call, which the plugin would tell about in a warning
pytestmark = pytest.mark.filterwarnings("ignore:replaycodegen.*live HTTP call")
URL = "http://192.0.2.1:9/v1/models"  # TEST-NET-1: no DNS; unguarded, it fails fast


def live_call():
    with pytest.raises(LiveCallBlocked) as blocked:
        urllib.request.urlopen(URL, timeout=0.5)
    return str(blocked.value)


@pytest.mark.parametrize("n", range(500))
def test_codegen(codegen, n):
    codegen.set_code("results = {}")
    assert f"test_codegen[{n}]" in live_call()


@pytest.mark.parametrize("n", range(3))
def test_plain(n):
    urllib.request.urlopen(URL, timeout=0.5)
"""


def test_the_1st_and_the_500th_test_block_a_live_call(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_many=MANY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=500, failed=3)
    # test_plain does not use codegen: not covered by default, its calls go on to connect
    assert "LiveCallBlocked" not in result.stdout.str()
    assert len(no_dns) == 3


def test_xdist_workers_and_guard_all_block_every_live_call(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_many=MANY)
    result = pytester.runpytest_subprocess("-n", "2", "--codegen-guard=all")
    result.assert_outcomes(passed=500, failed=3)
    result.stdout.fnmatch_lines(["*LiveCallBlocked*This test does not use the codegen "
                                 "fixture*Test: test_many.py::test_plain[[]0[]]*"])
    assert "[gw1]" in result.stdout.str() or "2 workers" in result.stdout.str()


BEHAVIOUR = """
import urllib.request

import pytest


@pytest.mark.codegen_cassette(behavior="success")
def test_behaviour(codegen):
    urllib.request.urlopen("https://api.openai.com/v1/models", timeout=5)
"""


def test_a_blocked_call_in_a_behaviour_test_says_how_to_let_the_host_through(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_behaviour=BEHAVIOUR)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "serves the shipped behaviour 'success'" in text
    assert "there is no cassette to record into" in text
    assert "{'allowed_hosts': ['<host>', '127.0.0.1', 'localhost']}" in text
    assert "`pytest test_behaviour.py::test_behaviour --codegen-record-mode=once`" in text
    assert "--codegen-record-mode=new_episodes" not in text
    assert no_dns == []


ALLOWED = BEHAVIOUR + """

@pytest.fixture
def codegen_config():
    return {"allowed_hosts": ["api.openai.com"]}
"""


def test_allowed_hosts_lets_the_host_through(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_behaviour=ALLOWED)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert "LiveCallBlocked" not in result.stdout.str()
    assert len(no_dns) == 1  # let through: it went on to resolve the host
