"""The command printed with a miss runs as printed (``shell=True``) and records the entry.

In pytest it is the pytest command of the failing test; outside pytest a ``replaycodegen
record`` command with the request's fields. Both are quoted for a POSIX shell and run here
against the loopback FakeOpenAIServer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from replaycodegen import CassetteMiss, MockCodeGenerator, PythonExecutionRequest
from replaycodegen.testing import FakeOpenAIServer

from .helpers import FAKE_KEY, codes_by_query, make_project, write_cassette

COMMAND = re.compile(r"`((?:pytest|replaycodegen record) [^`]+)`")


def printed_command(text: str, starts: str) -> str:
    found = [c for c in COMMAND.findall(text) if c.startswith(starts)]
    assert found, f"no `{starts} ...` command in:\n{text}"
    return found[0]


def run_as_printed(command: str, cwd: Path, server: FakeOpenAIServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(OPENAI_API_KEY=FAKE_KEY, OPENAI_BASE_URL=server.base_url,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


PARAM = """
import pytest

@pytest.mark.parametrize("query", ["first question", "it's \\"quoted\\""])
async def test_param(codegen, ask, query):
    assert "results" in await codegen.generate_code(ask(query), [])
"""


def test_the_pytest_command_of_a_missing_cassette_records_that_test(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    root = make_project(pytester, test_fix=PARAM)
    failed = pytester.runpytest("-k", "first")
    failed.assert_outcomes(failed=1, deselected=1)
    command = printed_command(failed.stdout.str(), "pytest ")
    assert command == ("pytest 'test_fix.py::test_param[first question]' "
                       "--codegen-record-mode=once")
    run_as_printed(command, root, fake_server)
    cassette = root / "cassettes/test_fix/test_param[first question].codegen.yaml"
    assert list(codes_by_query(cassette)) == ["first question"]
    assert pytester.runpytest("-k", "first").ret == 0

    quoted = pytester.runpytest("-k", "quoted")  # quotes in the node id survive the shell
    run_as_printed(printed_command(quoted.stdout.str(), "pytest "), root, fake_server)
    assert pytester.runpytest().ret == 0


CHANGED = """
async def test_changed(codegen, ask):
    assert "results" in await codegen.generate_code(ask("the new question"), [])
"""


def test_the_pytest_command_of_a_changed_request_adds_the_entry(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    root = make_project(pytester, test_changed=CHANGED)
    cassette = root / "cassettes/test_changed/test_changed.codegen.yaml"
    write_cassette(cassette, {"the old question": "results = {'old': 1}"})
    failed = pytester.runpytest()
    failed.assert_outcomes(failed=1)
    command = printed_command(failed.stdout.str(), "pytest ")
    assert command == "pytest test_changed.py::test_changed --codegen-record-mode=new_episodes"
    run_as_printed(command, root, fake_server)
    assert set(codes_by_query(cassette)) == {"the old question", "the new question"}
    assert pytester.runpytest().ret == 0


def test_the_command_carries_the_cassette_dir_given_on_the_command_line(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer
) -> None:
    root = make_project(pytester, test_changed=CHANGED)
    failed = pytester.runpytest("--codegen-cassette-dir=my cassettes")
    command = printed_command(failed.stdout.str(), "pytest ")
    assert command.endswith("--codegen-record-mode=once --codegen-cassette-dir='my cassettes'")
    run_as_printed(command, root, fake_server)
    assert codes_by_query(root / "my cassettes/test_changed/test_changed.codegen.yaml")


PINNED = """
import pytest

@pytest.mark.codegen_cassette(record_mode="none")
async def test_pinned(codegen, ask):
    await codegen.generate_code(ask("q"), [])
"""


def test_a_marker_that_pins_the_mode_is_named_instead_of_a_command_that_would_not_record(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, test_pinned=PINNED)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*how to fix: record it: this test's codegen_cassette marker "
                                 "sets record_mode='none', which wins over the command line: "
                                 "set record_mode='once' there for one run*"])


RECORDER_ONCE = """
async def test_once(codegen, ask):
    assert "results" in await codegen.generate_code(ask("not recorded yet"), [])
"""


def test_a_recording_mode_that_does_not_record_names_the_one_that_does(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_once=RECORDER_ONCE)
    cassette = root / "cassettes/test_once/test_once.codegen.yaml"
    write_cassette(cassette, {"recorded": "results = {}"})
    failed = pytester.runpytest("--codegen-record-mode=once",
                                f"--codegen-base-url={fake_server.base_url}")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*how to fix: record mode is 'once': record it: `pytest "
                                 "test_once.py::test_once --codegen-record-mode=new_episodes "
                                 f"--codegen-base-url={fake_server.base_url}`*"])
    run_as_printed(printed_command(failed.stdout.str(), "pytest "), root, fake_server)
    assert "not recorded yet" in codes_by_query(cassette)


@pytest.mark.parametrize("expected_results", [{}, {"mean": "a float, rounded"}])
async def test_the_record_command_outside_pytest_records_the_missing_request(
    tmp_path: Path, fake_server: FakeOpenAIServer, expected_results: dict[str, str]
) -> None:
    cassette = tmp_path / "my cassettes" / "it's here.yaml"
    cassette.parent.mkdir()
    write_cassette(cassette, {"recorded before": "results = {}"})
    request = PythonExecutionRequest(user_query="What's the mean of 1..10?",
                                     task_objective="Store it in results['mean']",
                                     expected_results=expected_results,
                                     execution_folder_name="f")
    with pytest.raises(CassetteMiss) as miss:
        await MockCodeGenerator(cassette=cassette).generate_code(request, [])
    command = printed_command(miss.value.fix or "", "replaycodegen record")
    assert ("--request" in command) == bool(expected_results)
    run_as_printed(command, tmp_path, fake_server)
    replayed = MockCodeGenerator(cassette=cassette)
    assert await replayed.generate_code(request, []) == 'results = {"value": 42}'
