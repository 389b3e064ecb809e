"""Every shipped behaviour of the real MockCodeGenerator, run through the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replaycodegen import MockCodeGenerator
from replaycodegen.cassette.model import Cassette
from replaycodegen.errors import (
    ApprovalRequired,
    CodeRuntimeError,
    CodeSyntaxError,
    PythonExecutorError,
)
from replaycodegen.executor import PythonExecutorService
from replaycodegen.models import ExecutionError, PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import execution_folders

pytestmark = pytest.mark.integration


async def test_success(exec_request: PythonExecutionRequest, make_config: ConfigFactory) -> None:
    generator = MockCodeGenerator(behavior="success")

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert result.execution_result.results["value"] == 42
    assert result.generation_attempt == 1
    assert generator.call_count == 1


@pytest.mark.parametrize(
    ("behavior", "error_class", "text"),
    [
        ("syntax_error", CodeSyntaxError, "SyntaxError"),
        ("runtime_error", CodeRuntimeError, "ZeroDivisionError: division by zero"),
        ("missing_results", CodeRuntimeError, "did not create required 'results' dictionary"),
    ],
)
async def test_failing_behaviours_use_every_retry_then_raise(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    behavior: str,
    error_class: type[PythonExecutorError],
    text: str,
) -> None:
    generator = MockCodeGenerator(behavior=behavior)

    with pytest.raises(error_class) as info:
        await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert generator.call_count == exec_request.retries
    assert text in str(info.value)
    assert len(info.value.error_chain) == exec_request.retries
    assert generator.last_error_chain is not None
    assert len(generator.last_error_chain) == exec_request.retries - 1


async def test_channel_write_needs_approval_and_changes_the_channel_only_after_it(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    service = PythonExecutorService(generator=MockCodeGenerator(behavior="channel_write"))

    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, make_config(approval="control_writes"))

    assert any("MAGNET:QF1:SETPOINT" in reason for reason in info.value.reasons)
    assert execution_folders(execution_root) == []  # nothing ran, nothing was written

    result = await service.aresume(info.value.thread_id, approved=True)

    writes = result.execution_result.channel_writes
    assert [(w.channel, w.previous) for w in writes] == [("MAGNET:QF1:SETPOINT", 120.0)]
    state_file = result.execution_result.folder_path / "control_system.json"
    channels = json.loads(state_file.read_text())["channels"]
    assert channels["MAGNET:QF1:SETPOINT"] == writes[0].value != 120.0
    assert result.execution_result.results["value"] == 42


async def test_channel_read_runs_without_approval(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=MockCodeGenerator(behavior="channel_read"))

    result = await service.ainvoke(exec_request, make_config(approval="control_writes"))

    assert result.execution_result.results["value"] == 42
    assert result.execution_result.channel_writes == []


async def test_security_risk_is_never_executed(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    generator = MockCodeGenerator(behavior="security_risk")

    with pytest.raises(CodeSyntaxError) as info:
        await PythonExecutorService(generator=generator).ainvoke(
            exec_request, make_config(approval="disabled")
        )

    assert "subprocess" in str(info.value)
    first = info.value.error_chain[0]
    assert isinstance(first, ExecutionError) and first.stage == "analysis"
    assert any("os.system" in issue for issue in first.analysis_issues)
    # The code would touch a marker in its execution folder: no folder was ever created.
    assert execution_folders(execution_root) == []
    assert generator.call_count == exec_request.retries


async def test_security_risk_with_a_marker_outside_any_folder_is_never_executed(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "marker-that-must-not-exist"
    generator = MockCodeGenerator()
    generator.set_code(
        f"import subprocess\nsubprocess.run(['touch', {str(marker)!r}])\nresults = {{}}\n"
    )

    with pytest.raises(CodeSyntaxError, match="subprocess"):
        await PythonExecutorService(generator=generator).ainvoke(
            exec_request, make_config(approval="disabled")
        )

    assert not marker.exists()


async def test_error_aware_succeeds_within_the_retries(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = MockCodeGenerator(behavior="error_aware")

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert result.execution_result.results["value"] == 42
    assert result.generation_attempt <= exec_request.retries


@pytest.mark.parametrize(
    ("first_attempt", "fix_entry"),
    [
        ("results = {'mean': numpy.mean([1, 2])}\n", "add-imports"),
        ("results = {'ratio': 42 / 0}\n", "guard-division"),
        ("def broken(:\n    pass\n", "fix-syntax"),
        ("results = {'x': int('not a number')}\n", "generic-fix"),
    ],
    ids=["NameError", "ZeroDivisionError", "SyntaxError", "ValueError"],
)
async def test_error_aware_adapts_to_the_failure_the_service_feeds_back(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    tmp_path: Path,
    first_attempt: str,
    fix_entry: str,
) -> None:
    """A broken first attempt in front of the shipped error_aware entries: the service's
    real error chain picks the matching fix on attempt 2."""
    from replaycodegen import load_cassette
    from replaycodegen.cassette.behaviors import behavior_path
    from replaycodegen.cassette.model import Entry, Pattern

    behavior = load_cassette(behavior_path("error_aware"))
    broken = Entry(id="broken-first", code=first_attempt, when=Pattern(attempt=1))
    generator = MockCodeGenerator(
        cassette=Cassette(
            [broken, *(e for e in behavior.entries if e.id != "first-attempt")], path="crafted"
        )
    )

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert result.generation_attempt == 2
    assert result.execution_result.results["value"] == 42
    assert generator.get_generation_metadata()["entry_id"] == fix_entry
    assert len(generator.last_error_chain or []) == 1


async def test_a_code_sequence_succeeds_on_attempt_3_after_a_chain_of_2(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = MockCodeGenerator()
    generator.set_code_sequence(["def broken(", "results = 1 / 0", "results = {'value': 42}"])

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert result.generation_attempt == 3
    assert result.execution_result.results == {"value": 42}
    assert generator.last_error_chain is not None
    assert len(generator.last_error_chain) == 2
    assert [e.stage for e in result.error_chain] == ["analysis", "execution"]  # type: ignore[union-attr]
