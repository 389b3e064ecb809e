"""pytest-xdist, in real subprocesses (the plugin loads through its entry point there)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from replaycodegen.testing import FakeOpenAIServer

from .helpers import codes_by_query, make_project, read_report, write_cassette

GROUPS = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

@pytest.mark.xdist_group("a")
async def test_one(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "one = 1"

@pytest.mark.xdist_group("b")
async def test_two(codegen, ask):
    assert await codegen.generate_code(ask("q2"), []) == "two = 2"
"""


def test_replay_with_two_workers_reports_like_a_serial_run(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_groups=GROUPS)
    cassette = root / "cassettes/test_groups/shared.yaml"
    write_cassette(cassette, {"q1": "one = 1", "q2": "two = 2", "q3": "three = 3"})
    options = ("--codegen-unused=fail", "--codegen-report=report.json")

    serial = pytester.runpytest(*options)
    serial.assert_outcomes(passed=2)
    serial_report = read_report(root / "report.json")

    parallel = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", *options)
    parallel.assert_outcomes(passed=2)
    parallel.stdout.fnmatch_lines_random(["*gw0*PASSED*", "*gw1*PASSED*"])
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    parallel.stdout.fnmatch_lines(["1 cassette used: 2 played, 0 recorded, 0 misses, 1 unused"])
    parallel_report = read_report(root / "report.json")
    assert parallel_report["cassettes"] == serial_report["cassettes"]
    assert parallel_report["tests"] == serial_report["tests"]
    assert parallel_report["cassettes"]["cassettes/test_groups/shared.yaml"]["unused"] == ["e3"]


MANY = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

@pytest.mark.parametrize("n", range(6))
async def test_ask(codegen, ask, n):
    await codegen.generate_code(ask(f"q{n}"), [])
"""


def test_recording_with_two_workers_into_one_cassette_loses_nothing(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_many=MANY)
    recorded = pytester.runpytest_subprocess(
        "-n", "2", "-v", "--codegen-record-mode=once",
        f"--codegen-base-url={fake_server.base_url}")
    recorded.assert_outcomes(passed=6)
    # once: both workers record into the file the first one created (a per-session decision)
    recorded.stdout.fnmatch_lines_random(["*gw0*PASSED*", "*gw1*PASSED*"])
    cassette = root / "cassettes/test_many/shared.yaml"
    assert set(codes_by_query(cassette)) == {f"q{n}" for n in range(6)}
    assert len(fake_server.requests) == 6

    fake_server.stop()
    replayed = pytester.runpytest("--codegen-unused=fail")
    replayed.assert_outcomes(passed=6)
    replayed.stdout.fnmatch_lines(["1 cassette used: 6 played, 0 recorded, 0 misses, 0 unused"])


def test_importing_the_plugin_is_cheap() -> None:
    heavy = ("openai", "vcr", "replaycodegen.executor", "pydantic", "yaml")
    probe = ("import sys, replaycodegen.pytest_plugin; "
             f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"
