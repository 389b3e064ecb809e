"""The local runner: a real subprocess in a fresh folder, its results, output and failures."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.executor import ExecutorConfigError
from replaycodegen.executor.bootstrap import to_jsonable
from replaycodegen.executor.environment import child_environment
from replaycodegen.executor.runner import (
    RunLimits,
    RunOutcome,
    create_execution_folder,
    run_code,
)
from replaycodegen.runtime import DEFAULT_CHANNELS

LIMITS = RunLimits(timeout_seconds=10, memory_limit_mb=1024, max_output_bytes=100_000)


async def run(
    code: str,
    tmp_path: Path,
    *,
    limits: RunLimits = LIMITS,
    channels: dict[str, Any] | None = None,
    writes_allowed: bool = True,
    env: dict[str, str] | None = None,
) -> RunOutcome:
    folder = create_execution_folder(tmp_path / "runs", "runner-test")
    return await run_code(
        textwrap.dedent(code),
        folder,
        limits=limits,
        channels=DEFAULT_CHANNELS if channels is None else channels,
        writes_allowed=writes_allowed,
        env=env,
    )


async def test_results_and_stdout_come_back(tmp_path: Path) -> None:
    outcome = await run("print('hello')\nresults = {'value': 42, 'items': [1, 2]}", tmp_path)

    assert outcome.failure is None
    assert outcome.results == {"value": 42, "items": [1, 2]}
    assert outcome.stdout == "hello\n"
    assert outcome.execution_time >= 0


async def test_runs_in_its_own_folder_which_keeps_the_code(tmp_path: Path) -> None:
    outcome = await run("import os\nresults = {'cwd': os.getcwd()}", tmp_path)

    assert outcome.results is not None
    assert Path(outcome.results["cwd"]) == outcome.folder
    assert outcome.folder.parent == tmp_path / "runs"
    assert "results = {'cwd'" in (outcome.folder / "generated_code.py").read_text()


def test_execution_folders_are_unique(tmp_path: Path) -> None:
    first = create_execution_folder(tmp_path, "same name/with:odd chars")
    second = create_execution_folder(tmp_path, "same name/with:odd chars")

    assert first != second
    assert first.parent == second.parent == tmp_path
    assert "/" not in first.name and ":" not in first.name


async def test_non_json_values_degrade_to_repr(tmp_path: Path) -> None:
    outcome = await run(
        """
        class Thing:
            def __repr__(self):
                return "<Thing>"

        class Array:
            def tolist(self):
                return [1.0, 2.0]

        import datetime
        loop = []
        loop.append(loop)
        results = {
            "thing": Thing(),
            "set": {3},
            "tuple": (1, 2),
            "nan": float("nan"),
            "array": Array(),
            "date": datetime.date(2026, 1, 2),
            "int_key": {1: "a"},
            "loop": loop,
        }
        """,
        tmp_path,
    )

    assert outcome.failure is None
    results = outcome.results
    assert results is not None
    assert results["thing"] == "<Thing>"
    assert results["set"] == "{3}"
    assert results["tuple"] == [1, 2]
    assert results["nan"] == "nan"
    assert results["array"] == [1.0, 2.0]
    assert results["date"] == "2026-01-02"
    assert results["int_key"] == {"1": "a"}
    assert results["loop"] == ["[[...]]"]


def test_to_jsonable_output_is_always_valid_json() -> None:
    value = {("a", 1): {1, 2}, "inf": math.inf, "nested": [[[object]]], None: b"x"}

    converted = to_jsonable(value)

    assert json.loads(json.dumps(converted, allow_nan=False)) == converted


async def test_a_runtime_exception_names_its_class_and_keeps_the_traceback(
    tmp_path: Path,
) -> None:
    outcome = await run("x = 1\nresults = {'value': x / 0}", tmp_path)

    assert outcome.failure is not None
    assert outcome.failure.error_type == "ZeroDivisionError"
    assert outcome.failure.message == "ZeroDivisionError: division by zero"
    traceback = outcome.failure.traceback or ""
    assert 'generated_code.py", line 2' in traceback
    assert "bootstrap" not in traceback


async def test_missing_results_is_a_failure(tmp_path: Path) -> None:
    outcome = await run("value = 42", tmp_path)

    assert outcome.failure is not None
    assert "did not create required 'results' dictionary" in outcome.failure.message


async def test_results_that_are_not_a_dict_are_a_failure(tmp_path: Path) -> None:
    outcome = await run("results = [42]", tmp_path)

    assert outcome.failure is not None
    assert "'results' must be a dict, got list" in outcome.failure.message


async def test_sys_exit_zero_still_returns_results(tmp_path: Path) -> None:
    outcome = await run("import sys\nresults = {'value': 1}\nsys.exit(0)", tmp_path)

    assert outcome.failure is None
    assert outcome.results == {"value": 1}


async def test_sys_exit_with_an_error_code_is_a_failure(tmp_path: Path) -> None:
    outcome = await run("import sys\nsys.exit(3)", tmp_path)

    assert outcome.failure is not None
    assert outcome.failure.message == "SystemExit: 3"


async def test_a_hard_exit_without_outcome_is_reported(tmp_path: Path) -> None:
    outcome = await run("import os\nos._exit(4)", tmp_path)

    assert outcome.failure is not None
    assert outcome.failure.error_type == "ProcessExited"
    assert "exited with code 4" in outcome.failure.message


async def test_runtime_is_importable_and_predefined(tmp_path: Path) -> None:
    outcome = await run(
        """
        import replaycodegen.runtime as rt
        results = {"imported": rt.read_channel("BEAM:CURRENT"),
                   "predefined": read_channel("BEAM:ENERGY")}
        """,
        tmp_path,
    )

    assert outcome.results == {"imported": 500.0, "predefined": 3.0}


async def test_configured_channels_seed_the_simulation(tmp_path: Path) -> None:
    outcome = await run("results = {'v': read_channel('MY:PV')}", tmp_path, channels={"MY:PV": 7})

    assert outcome.results == {"v": 7}


async def test_channel_writes_are_reported_and_kept_in_the_folder(tmp_path: Path) -> None:
    outcome = await run("write_channel('BEAM:ENERGY', 3.5)\nresults = {}", tmp_path)

    assert [(w.channel, w.value, w.previous) for w in outcome.channel_writes] == [
        ("BEAM:ENERGY", 3.5, 3.0)
    ]
    state = json.loads((outcome.folder / "control_system.json").read_text())
    assert state["channels"]["BEAM:ENERGY"] == 3.5


async def test_writes_are_refused_when_not_allowed(tmp_path: Path) -> None:
    outcome = await run(
        "write_channel('BEAM:ENERGY', 3.5)\nresults = {}", tmp_path, writes_allowed=False
    )

    assert outcome.failure is not None
    assert outcome.failure.error_type == "PermissionError"
    assert outcome.channel_writes == []
    state = json.loads((outcome.folder / "control_system.json").read_text())
    assert state["channels"]["BEAM:ENERGY"] == 3.0


async def test_the_environment_is_an_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "GITHUB_TOKEN", "DB_PASSWORD", "AWS_SECRET"]
    for name in secrets:
        monkeypatch.setenv(name, "fake-s3cr3t-for-the-test")
    monkeypatch.setenv("HARMLESS_SETTING", "not on the list")

    outcome = await run("import os\nresults = {'env': dict(os.environ)}", tmp_path)

    assert outcome.results is not None
    env = outcome.results["env"]
    assert not set(secrets) & set(env)
    assert "fake-s3cr3t" not in json.dumps(env)
    assert "HARMLESS_SETTING" not in env
    assert env["HOME"] == str(outcome.folder)
    assert env["MPLBACKEND"] == "Agg"


async def test_execution_env_adds_named_variables(tmp_path: Path) -> None:
    outcome = await run(
        "import os\nresults = {'v': os.environ.get('MY_SETTING')}",
        tmp_path,
        env={"MY_SETTING": "visible"},
    )

    assert outcome.results == {"v": "visible"}


def test_child_environment_points_at_the_package_and_the_channel(tmp_path: Path) -> None:
    env = child_environment(
        folder=tmp_path,
        control_fd=7,
        sandboxed=False,
        base={"PATH": "/bin", "MY_API_KEY": "x", "PYTHONPATH": "/extra"},
    )

    assert "MY_API_KEY" not in env
    assert env["PATH"] == "/bin"
    assert env["REPLAYCODEGEN_CONTROL_FD"] == "7"
    assert Path(env["PYTHONPATH"], "replaycodegen", "runtime.py").is_file()
    assert "REPLAYCODEGEN_WRITES_ALLOWED" not in env


def test_an_unwritable_root_names_the_setting_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(ExecutorConfigError, match=r"execution\.execution_root"):
        create_execution_folder(blocker / "sub", "x")
