"""Cold start (issue 12 item 2), the promises that are not about time: what a replay in a
fresh process imports, what ``--help`` imports, and that the lazily resolved names of
``replaycodegen.generation`` still patch as the seed document does. Timing figures come
from scripts/bench_startup.py, never from a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from replaycodegen.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

NEVER_IMPORTED_BY_A_REPLAY = (
    "replaycodegen.generation.recording",  # the recorder
    "replaycodegen.cassette.writing.store",
    "filelock",
    "openai",
    "vcr",
    "replaycodegen.executor",
)


def fresh(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def imported(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for root in roots if m == root or m.startswith(root + "."))


REPLAY = """
import asyncio, json, sys
{imports}
generator = MockCodeGenerator(behavior="error_aware")
request = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")
first = asyncio.run(generator.generate_code(request, []))
second = asyncio.run(generator.generate_code(request, ["NameError: name 'np'"]))
print(json.dumps({{"modules": sorted(sys.modules), "codes": [first, second]}}))
"""


@pytest.mark.parametrize("imports", [
    "from replaycodegen.generation import MockCodeGenerator\n"
    "from replaycodegen import PythonExecutionRequest",
    "from replaycodegen import MockCodeGenerator, PythonExecutionRequest",
], ids=["from generation", "from the package"])
def test_a_replay_never_imports_the_recorder_store_filelock_openai_vcr_or_executor(
    imports: str,
) -> None:
    done = fresh(REPLAY.format(imports=imports))
    data = json.loads(done.stdout.splitlines()[-1])
    assert data["codes"][0] != data["codes"][1]  # it really replayed, by the error chain
    assert imported(data["modules"], NEVER_IMPORTED_BY_A_REPLAY) == []


def test_a_replay_served_from_the_parsed_cassette_cache_imports_no_yaml(
    tmp_path: Path,
) -> None:
    """The first process parses the behaviour and the file (PyYAML); the next one is served
    from the cache and never imports PyYAML, nor the parser."""
    cassette = tmp_path / "c.yaml"
    cassette.write_text("version: 1\nentries:\n  - id: any\n    when: {}\n"
                        "    code: 'results = {}'\n", encoding="utf-8")
    code = f"""
        import asyncio, json, os, sys
        os.environ["REPLAYCODEGEN_CACHE_DIR"] = {str(tmp_path / "cache")!r}
        from replaycodegen import MockCodeGenerator, PythonExecutionRequest
        request = PythonExecutionRequest(user_query="q", task_objective="o",
                                         execution_folder_name="f")
        codes = [asyncio.run(MockCodeGenerator(behavior="success").generate_code(request, [])),
                 asyncio.run(MockCodeGenerator(cassette={str(cassette)!r}).generate_code(
                     request, []))]
        print(json.dumps({{"modules": sorted(sys.modules), "codes": codes}}))
    """
    first, second = (json.loads(fresh(code).stdout.splitlines()[-1]) for _ in range(2))
    assert first["codes"] == second["codes"] and second["codes"][1] == "results = {}"
    assert "yaml" in first["modules"]
    assert imported(second["modules"], ("yaml", "replaycodegen.cassette.loading.parse")) == []


def test_a_miss_and_a_cassette_file_still_import_none_of_them(tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    cassette.write_text("version: 1\nentries:\n  - id: later\n    when: {attempt: 3}\n"
                        "    code: 'results = {}'\n", encoding="utf-8")
    done = fresh(f"""
        import asyncio, json, sys
        from replaycodegen import CassetteMiss, MockCodeGenerator, PythonExecutionRequest
        request = PythonExecutionRequest(user_query="q", task_objective="o",
                                         execution_folder_name="f")
        try:
            asyncio.run(MockCodeGenerator(cassette={str(cassette)!r}).generate_code(request, []))
        except CassetteMiss as miss:
            reason = miss.reason
        print(json.dumps({{"modules": sorted(sys.modules), "reason": reason}}))
    """)
    data = json.loads(done.stdout.splitlines()[-1])
    assert data["reason"] == "no match"
    assert imported(data["modules"], NEVER_IMPORTED_BY_A_REPLAY) == []


def test_generation_resolves_its_names_only_when_asked() -> None:
    done = fresh("""
        import json, sys
        import replaycodegen.generation as generation
        before = sorted(vars(generation))
        modules = sorted(sys.modules)
        from replaycodegen.generation import MockCodeGenerator, RecordingCodeGenerator
        import replaycodegen.generation.mock as mock, replaycodegen.generation.recording as rec
        print(json.dumps({"before": before, "modules": modules,
                          "same": [MockCodeGenerator is mock.MockCodeGenerator,
                                   RecordingCodeGenerator is rec.RecordingCodeGenerator],
                          "dir": dir(generation)}))
    """)
    data = json.loads(done.stdout.splitlines()[-1])
    for name in ("MockCodeGenerator", "RecordingCodeGenerator", "OpenAICodeGenerator",
                 "create_code_generator", "CodeGenerator"):
        assert name not in data["before"]
        assert name in data["dir"]
    assert imported(data["modules"], ("replaycodegen.generation.",)) == []
    assert data["same"] == [True, True]


def test_patching_the_lazy_factory_reaches_the_service_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    done = fresh(f"""
        import asyncio, json, tempfile
        from unittest.mock import patch
        tempfile.tempdir = {str(tmp_path)!r}
        import replaycodegen.generation as generation
        from replaycodegen.generation import MockCodeGenerator
        from replaycodegen import PythonExecutionRequest, PythonExecutorService
        unresolved = "create_code_generator" not in vars(generation)
        mock_gen = MockCodeGenerator(behavior="success")
        request = PythonExecutionRequest(user_query="Calculate test value",
                                         task_objective="Test computation",
                                         execution_folder_name="test")
        with patch("replaycodegen.generation.create_code_generator", return_value=mock_gen):
            service = PythonExecutorService()
            result = asyncio.run(service.ainvoke(request, config={{
                "thread_id": "test",
                "configurable": {{"execution": {{"execution_method": "local"}}}}}}))
        from replaycodegen.generation import factory
        print(json.dumps({{"unresolved": unresolved, "calls": mock_gen.call_count,
                          "results": result.execution_result.results,
                          "restored": generation.create_code_generator
                                      is factory.create_code_generator}}))
    """)
    data = json.loads(done.stdout.splitlines()[-1])
    assert data["unresolved"] is True  # the patch was the first to touch the name
    assert data["calls"] == 1
    assert data["results"] == {"value": 42, "inputs": [40, 2]}
    assert data["restored"] is True


def test_exceptions_is_cheap_and_resolves_the_executor_classes_when_asked() -> None:
    done = fresh("""
        import json, sys
        import replaycodegen.exceptions as exceptions
        light = sorted(m for m in sys.modules
                       if m.split(".")[0] in {"pydantic", "yaml"}
                       or m.startswith("replaycodegen.executor"))
        from replaycodegen.exceptions import ExecutorConfigError, NoPendingApproval
        import replaycodegen.executor as executor
        print(json.dumps({"light": light,
                          "same": [ExecutorConfigError is executor.ExecutorConfigError,
                                   NoPendingApproval is executor.NoPendingApproval]}))
    """)
    data = json.loads(done.stdout.splitlines()[-1])
    assert data["light"] == []
    assert data["same"] == [True, True]


def test_help_imports_no_command_module() -> None:
    done = fresh("""
        import io, json, sys, contextlib
        from replaycodegen.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main(["--help"])
            except SystemExit as exc:
                assert exc.code == 0
        commands = sorted(m for m in sys.modules if m.startswith("replaycodegen.cli.")
                          and m.endswith(("_cmd", "_cmds")))
        print(json.dumps({"commands": commands, "help": out.getvalue()}))
    """)
    data = json.loads(done.stdout.splitlines()[-1])
    assert data["commands"] == []
    for name, text in app.SHORT_HELP.items():
        assert f"{name}" in data["help"] and text in data["help"]


@pytest.mark.parametrize("name", list(app.COMMANDS))
def test_the_listed_short_help_is_the_commands_own(name: str) -> None:
    command = app.cli.get_command(click.Context(app.cli), name)
    assert command is not None
    assert app.SHORT_HELP.get(name, command.get_short_help_str()) == command.get_short_help_str()


def test_a_command_without_a_listed_short_help_is_still_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(app.SHORT_HELP, "lint")
    text = app.cli.get_help(click.Context(app.cli, info_name="replaycodegen"))
    assert "Check cassettes: keys, duplicates, secrets..." in text


@pytest.mark.slow
def test_bench_startup_prints_the_ratios_next_to_their_anchors() -> None:
    done = subprocess.run([sys.executable, str(SCRIPTS / "bench_startup.py"), "--reps", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert 'x the anchor' in done.stdout
    assert 'vs python -c "import yaml, pydantic"' in done.stdout
    assert 'vs python -c "import click"' in done.stdout
    assert "a replay imports the recorder, store, filelock, openai, vcr or executor?: " \
        "none of them" in done.stdout
