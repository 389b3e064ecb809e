"""Next to pytest-recording: its cassettes play back under every guard setting, and each
plugin keeps a cassette file of its own (pytest-recording is installed in ``[dev]``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from replaycodegen.testing import FakeOpenAIServer

from .helpers import codes_by_query, make_project, write_cassette

URL = "https://api.example.com/v1/data"


def write_http_cassette(path: Path, answer: int, url: str = URL) -> None:
    """A vcrpy cassette (pytest-recording's format) answering ``GET url``."""
    interaction = {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": url},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"content-type": ["application/json"]},
                     "body": {"string": json.dumps({"answer": answer})}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"version": 1, "interactions": [interaction]}))



VCR_TESTS = """
import json
import urllib.request

import httpx2
import pytest
import vcr

URL = "https://api.example.com/v1/data"


@pytest.mark.vcr
def test_vcr_only():
    assert httpx2.get(URL).json() == {"answer": 1}


@pytest.mark.vcr
async def test_vcr_and_codegen(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "one = 1"
    with urllib.request.urlopen(URL, timeout=5) as reply:
        assert json.load(reply) == {"answer": 2}


async def test_a_cassette_opened_inside_the_guard(codegen, ask):
    codegen.set_code("results = {}")
    with vcr.use_cassette("cassettes/test_http/inside.yaml", record_mode="none"):
        assert httpx2.get(URL).json() == {"answer": 3}
"""


@pytest.mark.parametrize("guard", ["codegen", "all"])
def test_a_vcr_test_replays_its_own_cassette_under_every_guard_setting(
    pytester: pytest.Pytester, no_dns: list[Any], guard: str
) -> None:
    root = make_project(pytester, test_http=VCR_TESTS)
    folder = root / "cassettes/test_http"
    write_http_cassette(folder / "test_vcr_only.yaml", 1)
    write_http_cassette(folder / "test_vcr_and_codegen.yaml", 2)
    write_http_cassette(folder / "inside.yaml", 3)
    write_cassette(folder / "test_vcr_and_codegen.codegen.yaml", {"q1": "one = 1"})
    # the guard is entered after pytest-recording's cassette (and steps aside) in the
    # first two tests, before vcrpy's (which plays back on top of it) in the third
    result = pytester.runpytest("--record-mode=none", f"--codegen-guard={guard}")
    result.assert_outcomes(passed=3)
    assert "LiveCallBlocked" not in result.stdout.str()
    assert no_dns == []


UNMARKED = """
import httpx2

def test_no_cassette_at_all():
    httpx2.get("https://api.example.com/v1/data")
"""


def test_guard_all_still_blocks_a_test_without_any_cassette(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_plain=UNMARKED)
    result = pytester.runpytest("--record-mode=none", "--codegen-guard=all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*LiveCallBlocked: replaycodegen: live HTTP call to GET https://api.example.com/v1/data "
        "blocked*This test does not use the codegen fixture, so there is no cassette to record "
        "into*allowed_hosts*",
    ])
    assert no_dns == []


BOTH = """
import httpx2
import pytest


@pytest.mark.vcr
async def test_both(codegen, ask, base_url):
    code = await codegen.generate_code(ask("q1"), [])
    assert "results" in code
    assert httpx2.get(f"{base_url}/models").status_code == 200
"""

BOTH_CONFTEST = """

@pytest.fixture
def base_url():
    import os
    return os.environ["TEST_BASE_URL"]
"""


def test_both_plugins_record_and_replay_a_file_each(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = make_project(pytester, test_both=BOTH)
    conftest = root / "conftest.py"
    conftest.write_text(conftest.read_text() + BOTH_CONFTEST)
    monkeypatch.setenv("TEST_BASE_URL", fake_server.base_url)
    recorded = pytester.runpytest("--record-mode=once", "--codegen-record-mode=once",
                                  f"--codegen-base-url={fake_server.base_url}")
    recorded.assert_outcomes(passed=1)
    folder = root / "cassettes/test_both"
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["test_both.codegen.yaml",
                                                             "test_both.yaml"]
    assert "q1" in codes_by_query(folder / "test_both.codegen.yaml")
    assert "interactions" in yaml.safe_load((folder / "test_both.yaml").read_text())

    fake_server.stop()
    replayed = pytester.runpytest("--record-mode=none")
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines(["1 cassette used: 1 played, 0 recorded, 0 misses, 0 unused"])


LEGACY = """
async def test_old(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "old = 1"
"""


def test_a_replaycodegen_cassette_under_the_old_name_is_used_with_a_rename_note(
    pytester: pytest.Pytester,
) -> None:
    root = make_project(pytester, test_legacy=LEGACY)
    write_cassette(root / "cassettes/test_legacy/test_old.yaml", {"q1": "old = 1"})
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*replaycodegen: cassettes/test_legacy/test_old.yaml is a replaycodegen cassette under "
        "the old default name; it is used because test_old.codegen.yaml does not exist.*"
        "`git mv cassettes/test_legacy/test_old.yaml "
        "cassettes/test_legacy/test_old.codegen.yaml`*",
    ])
    (root / "cassettes/test_legacy/test_old.yaml").rename(
        root / "cassettes/test_legacy/test_old.codegen.yaml")
    renamed = pytester.runpytest()
    renamed.assert_outcomes(passed=1)
    assert "old default name" not in renamed.stdout.str()


def test_a_vcr_cassette_under_the_old_name_is_left_to_pytest_recording(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str,
) -> None:
    root = make_project(pytester, test_legacy=LEGACY.replace('"old = 1"', '"results = {}"'))
    theirs = root / "cassettes/test_legacy/test_old.yaml"
    write_http_cassette(theirs, 1)
    before = theirs.read_bytes()
    replayed = pytester.runpytest()
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["*no cassette entry for this request (no such cassette)",
                                   "*cassette: */cassettes/test_legacy/test_old.codegen.yaml"])
    assert "interactions" not in replayed.stdout.str()
    fake_server.queue_response("```python\nresults = {}\n```")
    recorded = pytester.runpytest("--codegen-record-mode=once",
                                  f"--codegen-base-url={fake_server.base_url}")
    recorded.assert_outcomes(passed=1)
    assert theirs.read_bytes() == before
    assert codes_by_query(theirs.with_name("test_old.codegen.yaml")) == {"q1": "results = {}"}


POINTED = """
import pytest

pytestmark = pytest.mark.codegen_cassette("theirs")

async def test_pointed(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
"""


@pytest.mark.parametrize("mode", ["none", "new_episodes", "rewrite", "all"])
def test_a_vcr_cassette_is_never_replayed_overwritten_or_appended_to(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str, mode: str,
) -> None:
    root = make_project(pytester, test_pointed=POINTED)
    theirs = root / "cassettes/test_pointed/theirs.yaml"
    write_http_cassette(theirs, 1)
    before = theirs.read_bytes()
    result = pytester.runpytest(f"--codegen-record-mode={mode}",
                                f"--codegen-base-url={fake_server.base_url}")
    assert result.ret != 0
    result.stdout.fnmatch_lines([
        "*theirs.yaml:*a vcrpy HTTP cassette (pytest-recording's or vcrpy's), not a "
        "replaycodegen one*<test>.codegen.yaml*",
    ])
    assert theirs.read_bytes() == before
    assert fake_server.requests == []


class Scripted:
    async def generate_code(self, request: Any, error_chain: Any) -> str:
        raise AssertionError("must not be called")

    def get_generation_metadata(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("mode", ["once", "new_episodes", "all", "rewrite"])
def test_the_store_and_the_recorder_refuse_a_vcr_cassette(tmp_path: Path, mode: str) -> None:
    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cassette.writing.store import CassetteStore
    from replaycodegen.errors import CassetteError
    from replaycodegen.generation import RecordingCodeGenerator

    theirs = tmp_path / "test_x.yaml"
    write_http_cassette(theirs, 1)
    before = theirs.read_bytes()
    with pytest.raises(CassetteError, match=r"a vcrpy HTTP cassette.*nothing was written"):
        CassetteStore(theirs).write(Cassette())
    with pytest.raises(CassetteError, match="a vcrpy HTTP cassette"):
        RecordingCodeGenerator(Scripted(), theirs, mode)
    assert theirs.read_bytes() == before
