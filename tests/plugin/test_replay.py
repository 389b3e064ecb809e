"""Replay (record mode ``none``): the fixtures, misses, the live-call guard, the unused report."""

from __future__ import annotations

from typing import Any

import pytest

from replaycodegen.lifecycle.ci.combine import combine_reports
from replaycodegen.lifecycle.ci.reports import RunReport
from replaycodegen.lifecycle.ci.reports import read_report as read_report_file

from .helpers import make_project, read_report, write_cassette

FIXTURES_PROJECT = """
import pytest
from replaycodegen import MockCodeGenerator, PythonExecutionRequest


async def test_answers(codegen, ask, codegen_record_mode, codegen_cassette_path, codegen_config):
    assert isinstance(codegen, MockCodeGenerator)
    assert codegen_record_mode == "none"
    assert codegen_config == {}
    assert codegen_cassette_path.parts[-3:] == (
        "cassettes", "test_fixtures", "test_answers.codegen.yaml")
    assert await codegen.generate_code(ask("q1"), []) == "results = {'value': 1}"
    assert await codegen.generate_code(ask("q2"), []) == "results = {'value': 2}"


@pytest.mark.codegen_cassette(behavior="success")
async def test_service(codegen_service, codegen_request, tmp_path):
    assert isinstance(codegen_request, PythonExecutionRequest)
    config = {"configurable": {"execution": {"execution_root": str(tmp_path)}}}
    result = await codegen_service.ainvoke(codegen_request, config)
    assert result.execution_result.results["value"] == 42


async def test_set_code_needs_no_cassette(codegen, ask):
    codegen.set_code("results = {}")
    assert await codegen.generate_code(ask("anything"), []) == "results = {}"
"""


def test_each_fixture_replays_offline(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_fixtures=FIXTURES_PROJECT)
    write_cassette(root / "cassettes/test_fixtures/test_answers.codegen.yaml",
                   {"q1": "results = {'value': 1}", "q2": "results = {'value': 2}"})
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*= replaycodegen cassettes =*",
                                 "1 cassette used: 2 played, 0 recorded, 0 misses, 0 unused"])


def test_the_report_lists_twenty_noteworthy_cassettes_and_counts_the_rest(
    pytester: pytest.Pytester,
) -> None:
    tests = "".join(f"""
async def test_{n:02d}(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
""" for n in range(25))
    root = make_project(pytester, test_many=tests)
    for n in range(25):
        write_cassette(root / f"cassettes/test_many/test_{n:02d}.codegen.yaml",
                       {"q1": "results = {}", "q2": "results = {}"})
    result = pytester.runpytest()
    result.assert_outcomes(passed=25)
    result.stdout.fnmatch_lines([
        "25 cassettes used: 25 played, 0 recorded, 0 misses, 25 unused",
        "*test_19.codegen.yaml: 1 played, 0 recorded, 0 misses, 1 unused [[]unused: e2[]]",
        "  ... (5 more cassettes; -v lists them all)",
    ])
    assert "test_20.codegen.yaml" not in result.stdout.str()
    verbose = pytester.runpytest("-v")
    assert all(f"test_{n:02d}.codegen.yaml: 1 played" in verbose.stdout.str() for n in range(25))
    assert "more cassettes" not in verbose.stdout.str()
    reported = pytester.runpytest("--codegen-report=report.json")
    reported.stdout.fnmatch_lines(["  ... (5 more cassettes; -v lists them all (*report.json "
                                   "has them all))"])
    assert len(read_report(root / "report.json")["cassettes"]) == 25


def test_a_missing_cassette_fails_with_how_to_record_it(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_missing="""
async def test_unrecorded(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
""")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*CassetteMiss: replaycodegen: no cassette entry for this request (no such cassette)",
        "*cassette: */cassettes/test_missing/test_unrecorded.codegen.yaml",
        "*how to fix: record it: `pytest test_missing.py::test_unrecorded "
        "--codegen-record-mode=once`*",
        "*test_unrecorded.codegen.yaml: 0 played, 0 recorded, 1 miss, ? unused",
    ])


def test_a_changed_request_fails_with_the_closest_entries(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_changed="""
async def test_changed(codegen, ask):
    await codegen.generate_code(ask("q1, reworded"), [])
""")
    write_cassette(root / "cassettes/test_changed/test_changed.codegen.yaml",
                   {"q1": "results = {}"})
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*no cassette entry for this request (no match)",
        "*closest entries:",
        "*- e1 [recorded*: 1 difference",
        "*user_query: recorded 'q1' != now 'q1, reworded'",
    ])


def test_bad_codegen_config_says_which_keys_are_valid(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_config="""
import pytest

@pytest.fixture
def codegen_config():
    return {"modle": "gpt-4o"}

def test_it(codegen):
    pass
""")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*codegen_config: unknown key 'modle' (did you mean 'model'?); "
                                 "valid: model, base_url*"])



LIVE_CALLS = """
import openai
from replaycodegen.guard import LiveCallBlocked

def client():
    return openai.AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1",
                              max_retries=0)

async def test_live_call(codegen):
    await client().chat.completions.create(model="gpt-4o-mini", messages=[])

async def test_swallowed_live_call(codegen):
    try:
        await client().chat.completions.create(model="gpt-4o-mini", messages=[])
    except Exception:
        pass
"""


def test_the_guard_stops_live_calls_in_none_mode(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_live=LIVE_CALLS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*LiveCallBlocked: replaycodegen: live HTTP call to POST "
        "https://api.openai.com/v1/chat/completions blocked in record mode 'none' "
        "(cassette */cassettes/test_live/test_live_call.codegen.yaml)*--codegen-record-mode=once*",
        "*test_swallowed_live_call passed, but 1 live HTTP call was blocked*",
    ])
    assert no_dns == []


NO_HTTP_LIBRARY = """
import sys

async def test_replays(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "results = {}"

async def test_a_client_imported_in_the_test(codegen):
    import urllib.request  # no HTTP library was imported when the guard began
    urllib.request.urlopen("https://api.openai.com/v1/models", timeout=5)

def test_zz_vcr_never_imported():
    assert "vcr" not in sys.modules
"""


def test_without_http_libraries_the_socket_layer_guards_and_vcr_stays_out(
    pytester: pytest.Pytester,
) -> None:
    root = make_project(pytester, test_nohttp=NO_HTTP_LIBRARY)
    write_cassette(root / "cassettes/test_nohttp/test_replays.codegen.yaml",
                   {"q1": "results = {}"})
    result = pytester.runpytest_subprocess()  # a fresh interpreter: no HTTP library loaded
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*LiveCallBlocked: replaycodegen: live connection to api.openai.com:443 blocked in "
        "record mode 'none' (cassette */test_a_client_imported_in_the_test.codegen.yaml)*",
    ])


def test_without_vcrpy_the_plugin_still_guards_and_says_what_it_lacks(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, test_novcr="""
import httpx2

async def test_live_call(codegen):
    httpx2.get("https://api.openai.com/v1/models")
""")
    pytester.makeconftest(pytester.path.joinpath("conftest.py").read_text()
                          + "\nimport sys\nsys.modules['vcr'] = None  # vcrpy missing\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*LiveCallBlocked: replaycodegen: live connection to api.openai.com:443 blocked*",
        "*vcrpy is not installed, so live calls are blocked at the socket level only*",
    ])


WITHOUT_CODEGEN = """
import openai

async def test_no_codegen_fixture():
    client = openai.AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1",
                                max_retries=0)
    await client.chat.completions.create(model="gpt-4o-mini", messages=[])
"""


def test_guard_all_covers_tests_without_the_codegen_fixture(
    pytester: pytest.Pytester, no_dns: list[Any]
) -> None:
    make_project(pytester, test_plain=WITHOUT_CODEGEN)
    default = pytester.runpytest()  # only codegen tests are guarded by default
    default.assert_outcomes(failed=1)
    assert "LiveCallBlocked" not in default.stdout.str()
    guarded = pytester.runpytest("--codegen-guard=all")
    guarded.assert_outcomes(failed=1)
    guarded.stdout.fnmatch_lines(["*LiveCallBlocked: replaycodegen: live HTTP call to POST "
                                  "https://api.openai.com/v1/chat/completions blocked*"])
    assert len(no_dns) == 1  # only the unguarded run tried to resolve the host


SHARED = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

async def test_one(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "one = 1"

async def test_two(codegen, ask):
    assert await codegen.generate_code(ask("q2"), []) == "two = 2"
"""


def test_unused_entries_are_reported_and_can_fail_the_session(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_shared=SHARED)
    cassette = root / "cassettes/test_shared/shared.yaml"
    write_cassette(cassette, {"q1": "one = 1", "q2": "two = 2", "q3": "three = 3"})

    warned = pytester.runpytest()
    warned.assert_outcomes(passed=2)
    assert warned.ret == pytest.ExitCode.OK
    warned.stdout.fnmatch_lines([
        "1 cassette used: 2 played, 0 recorded, 0 misses, 1 unused",
        "  cassettes/test_shared/shared.yaml: 2 played, 0 recorded, 0 misses, 1 unused "
        "[[]unused: e3]",
        "remove unused entries with `replaycodegen prune --unused-from REPORT.json`*",
    ])

    failed = pytester.runpytest("--codegen-unused=fail", "--codegen-report=out/report.json")
    failed.assert_outcomes(passed=2)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(["FAILED: 1 unused cassette entry and --codegen-unused=fail"])
    data = read_report(root / "out/report.json")
    assert (data["format"], data["version"]) == ("replaycodegen-report", 2)
    record = data["cassettes"]["cassettes/test_shared/shared.yaml"]  # relative to the rootdir
    assert {k: record[k] for k in ("played", "recorded", "unused", "misses")} == {
        "played": ["e1", "e2"], "recorded": [], "unused": ["e3"], "misses": 0}
    run = read_report_file(root / "out/report.json")
    assert isinstance(run, RunReport)
    assert combine_reports([run]).unused(root) == {cassette: ["e3"]}  # what prune reads


def test_unused_entries_are_not_judged_from_part_of_the_suite(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_shared=SHARED)
    write_cassette(root / "cassettes/test_shared/shared.yaml", {"q1": "one = 1", "q2": "two = 2"})
    for selection in (["-k", "test_one"], ["test_shared.py::test_one"]):
        result = pytester.runpytest("--codegen-unused=fail", *selection)
        result.assert_outcomes(passed=1)
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["*? unused: not checked in 1 cassette*"])
