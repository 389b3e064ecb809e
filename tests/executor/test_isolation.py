"""Choosing the isolation: ``sandbox`` refuses to run without bubblewrap, ``auto`` falls
back with one warning per process, ``process`` never asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from replaycodegen.cli import cli
from replaycodegen.executor import PythonExecutorService
from replaycodegen.executor.sandbox import SandboxUnavailable, SandboxWarning, probe
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import ScriptedGenerator, execution_folders

SUCCESS = "results = {'value': 42}"


@pytest.fixture
def no_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine without bubblewrap: nothing named bwrap on PATH, the probe run afresh."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(probe, "_warned", False)
    probe.sandbox_status.cache_clear()
    yield
    probe.sandbox_status.cache_clear()  # the next test probes the real machine again


async def test_sandbox_refuses_to_run_without_bubblewrap(
    no_bwrap: None,
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    execution_root: Path,
) -> None:
    generator = ScriptedGenerator(SUCCESS)

    with pytest.raises(SandboxUnavailable) as info:
        await PythonExecutorService(generator).ainvoke(
            exec_request, make_config(isolation="sandbox")
        )

    message = str(info.value)
    assert "isolation='sandbox'" in message and "bubblewrap (bwrap) is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert generator.call_count == 0 and execution_folders(execution_root) == []


async def test_auto_falls_back_to_the_process_runner_with_one_warning(
    no_bwrap: None, exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(ScriptedGenerator(SUCCESS))

    with pytest.warns(SandboxWarning, match="WITHOUT a sandbox") as warned:
        first = await service.ainvoke(exec_request, make_config(isolation="auto"))
    second = await service.ainvoke(exec_request, make_config(isolation="auto"))

    assert len(warned) == 1
    assert "install bubblewrap" in str(warned[0].message)
    assert first.execution_result.results == second.execution_result.results == {"value": 42}


async def test_process_isolation_runs_without_asking(
    no_bwrap: None, exec_request: PythonExecutionRequest, make_config: ConfigFactory,
    recwarn: pytest.WarningsRecorder,
) -> None:
    result = await PythonExecutorService(ScriptedGenerator(SUCCESS)).ainvoke(
        exec_request, make_config(isolation="process")
    )

    assert result.execution_result.results == {"value": 42}
    assert not [w for w in recwarn if issubclass(w.category, SandboxWarning)]


def test_the_cli_exits_2_when_the_sandbox_is_required_but_missing(
    no_bwrap: None, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--isolation", "sandbox", "--execution-root", str(tmp_path / "runs")]
    )

    assert result.exit_code == 2
    assert "error:" in result.stderr and "bubblewrap (bwrap) is not installed" in result.stderr


def test_the_demo_still_runs_without_bubblewrap_and_says_what_is_not_protected(
    no_bwrap: None, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["run", "--execution-root", str(tmp_path / "runs")])

    assert result.exit_code == 0, result.output
    assert "WITHOUT a sandbox" in result.stderr and "install bubblewrap" in result.stderr
    assert result.stderr.count("WITHOUT a sandbox") == 1


@pytest.fixture
def refusing_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A bwrap that fails like one under Ubuntu's AppArmor user-namespace restriction."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--help" ]; then echo "    --size BYTES"; exit 0; fi\n'
        'echo "bwrap: setting up uid map: Permission denied" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setattr(probe, "_warned", False)
    probe.sandbox_status.cache_clear()
    yield
    probe.sandbox_status.cache_clear()


async def test_a_bwrap_that_cannot_run_is_reported_with_its_own_message(
    refusing_bwrap: None, exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    with pytest.raises(SandboxUnavailable, match="setting up uid map: Permission denied"):
        await PythonExecutorService(ScriptedGenerator(SUCCESS)).ainvoke(
            exec_request, make_config(isolation="sandbox")
        )

    with pytest.warns(SandboxWarning, match="setting up uid map: Permission denied"):
        result = await PythonExecutorService(ScriptedGenerator(SUCCESS)).ainvoke(
            exec_request, make_config(isolation="auto")
        )
    assert result.execution_result.results == {"value": 42}
