"""The service loop, its errors and the approval flow, with a scripted in-test generator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from replaycodegen import generation
from replaycodegen.errors import (
    ApprovalRejected,
    ApprovalRequired,
    CassetteMiss,
    CodeGenerationError,
    CodeRuntimeError,
    CodeSyntaxError,
)
from replaycodegen.executor import (
    CodeAnalysis,
    ExecutorConfigError,
    NoPendingApproval,
    PythonExecutorService,
)
from replaycodegen.models import ExecutionError, PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import ScriptedGenerator, execution_folders

WRITE_CODE = """\
from replaycodegen.runtime import read_channel, write_channel

previous = read_channel("MAGNET:QF1:SETPOINT")
write_channel("MAGNET:QF1:SETPOINT", previous + 1.5)
results = {"previous": previous, "value": 42}
"""
READ_CODE = 'results = {"current": read_channel("BEAM:CURRENT"), "value": 42}\n'
HIDDEN_WRITE_CODE = """\
setter = globals()["write_" + "channel"]
setter("MAGNET:QF1:SETPOINT", 0.0)
results = {"value": 42}
"""


def final_setpoint(folder: Path) -> Any:
    state = json.loads((folder / "control_system.json").read_text())
    return state["channels"]["MAGNET:QF1:SETPOINT"]


# --- the loop --------------------------------------------------------------------------


async def test_success_returns_results_code_and_folder(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    code = "print('working')\nresults = {'value': 42}\n"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config())

    assert result.execution_result.results == {"value": 42}
    assert result.execution_result.stdout == "working\n"
    assert result.execution_result.execution_time >= 0
    assert result.execution_result.channel_writes == []
    assert result.execution_result.folder_path.parent == execution_root
    assert result.generated_code == code
    assert result.generation_attempt == 1
    assert result.error_chain == []
    assert result.analysis_warnings == []


async def test_failures_feed_the_chain_until_the_code_works(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = ScriptedGenerator("def broken(", "results = 1 / 0", "results = {'value': 42}")

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert result.generation_attempt == 3
    assert [len(chain) for chain in generator.chains] == [0, 1, 2]
    syntax, runtime = result.error_chain
    assert isinstance(syntax, ExecutionError) and isinstance(runtime, ExecutionError)
    assert (syntax.stage, syntax.error_type, syntax.attempt_number) == (
        "analysis",
        "SyntaxError",
        1,
    )
    assert "(line 1)" in syntax.error_message
    assert syntax.failed_code == "def broken("
    assert (runtime.stage, runtime.attempt_number) == ("execution", 2)
    assert runtime.error_message == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in (runtime.traceback or "")
    assert runtime.failed_code == "results = 1 / 0"


@pytest.mark.parametrize(
    ("code", "error_class", "text"),
    [
        ("def broken(", CodeSyntaxError, "SyntaxError"),
        ("results = 1 / 0", CodeRuntimeError, "ZeroDivisionError: division by zero"),
        ("value = 42", CodeRuntimeError, "did not create required 'results' dictionary"),
        ("import subprocess\nresults = {}", CodeSyntaxError, "subprocess"),
        ("   \n", CodeGenerationError, "EmptyCode"),
    ],
    ids=["syntax", "runtime", "missing-results", "security", "empty"],
)
async def test_after_the_last_attempt_the_error_names_the_last_failure(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    code: str,
    error_class: type[Exception],
    text: str,
) -> None:
    generator = ScriptedGenerator(code)

    with pytest.raises(error_class) as info:
        await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert generator.call_count == exec_request.retries == 3
    assert text in str(info.value)
    assert "after 3 attempts" in str(info.value)
    chain = info.value.error_chain  # type: ignore[attr-defined]
    assert [e.attempt_number for e in chain] == [1, 2, 3]
    assert all(text in e.error_message for e in chain)


async def test_retries_is_the_number_of_attempts(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = ScriptedGenerator("results = 1 / 0")

    with pytest.raises(CodeRuntimeError, match="after 1 attempt;"):
        await PythonExecutorService(generator=generator).ainvoke(
            exec_request.model_copy(update={"retries": 1}), make_config()
        )
    assert generator.call_count == 1


async def test_high_risk_code_is_never_executed(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    marker = execution_root.parent / "marker"
    code = f"import subprocess\nsubprocess.run(['touch', {str(marker)!r}])\nresults = {{}}"

    with pytest.raises(CodeSyntaxError, match="runs external commands via subprocess"):
        await PythonExecutorService(generator=ScriptedGenerator(code)).ainvoke(
            exec_request, make_config(approval="disabled")
        )

    assert not marker.exists()
    assert execution_folders(execution_root) == []


async def test_security_findings_reach_the_chain_as_analysis_issues(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = ScriptedGenerator("import os\nos.system('ls')\nresults = {}", "results = {}")

    result = await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    (error,) = result.error_chain
    assert isinstance(error, ExecutionError)
    assert (error.stage, error.error_type) == ("analysis", "SecurityRisk")
    assert error.analysis_issues == ["line 2: runs processes via os.system [high risk]"]
    assert "os.system" in error.error_message


async def test_medium_findings_and_warnings_are_reported_with_the_result(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "import importlib\nname = 'math'\nm = importlib.import_module(name)\nresults = {}"

    result = await PythonExecutorService(generator=ScriptedGenerator(code)).ainvoke(
        exec_request, make_config()
    )

    assert any("cannot be checked" in warning for warning in result.analysis_warnings)


# --- the generator ---------------------------------------------------------------------


async def test_a_cassette_miss_propagates_unchanged(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    miss = CassetteMiss(
        "no entry for this request; fix: record it", reason="no match", cassette_path="c.yaml"
    )
    generator = ScriptedGenerator(error=miss)

    with pytest.raises(CassetteMiss) as info:
        await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert info.value is miss
    assert generator.call_count == 1


async def test_a_generation_error_propagates_with_the_chain_so_far(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    class FailsSecondTime(ScriptedGenerator):
        async def generate_code(self, request: Any, error_chain: Any) -> str:
            if error_chain:
                self.chains.append(list(error_chain))
                raise CodeGenerationError("the API is down")
            return await super().generate_code(request, error_chain)

    generator = FailsSecondTime("results = 1 / 0")

    with pytest.raises(CodeGenerationError, match="the API is down") as info:
        await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert generator.call_count == 2
    assert len(info.value.error_chain) == 1


async def test_other_generator_exceptions_become_code_generation_errors(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = ScriptedGenerator(error=ConnectionError("network unreachable"))

    with pytest.raises(CodeGenerationError, match="ConnectionError: network unreachable") as info:
        await PythonExecutorService(generator=generator).ainvoke(exec_request, make_config())

    assert isinstance(info.value.__cause__, ConnectionError)
    assert generator.call_count == 1


async def test_the_factory_is_looked_up_at_call_time(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = PythonExecutorService()  # created before the patch
    seen: list[Any] = []
    generator = ScriptedGenerator("results = {'value': 42}")

    def factory(config: Any) -> ScriptedGenerator:
        seen.append(config)
        return generator

    monkeypatch.setattr(generation, "create_code_generator", factory)
    config = make_config()

    result = await service.ainvoke(exec_request, config)

    assert result.execution_result.results == {"value": 42}
    assert seen == [config]


async def test_a_given_generator_bypasses_the_factory(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def factory(config: Any) -> None:
        raise AssertionError("the factory must not be called")

    monkeypatch.setattr(generation, "create_code_generator", factory)
    service = PythonExecutorService(generator=ScriptedGenerator("results = {}"))

    assert (await service.ainvoke(exec_request, make_config())).execution_result.results == {}


async def test_invalid_config_fails_before_generating(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = ScriptedGenerator("results = {}")

    with pytest.raises(ExecutorConfigError, match=r"approval\.mode"):
        await PythonExecutorService(generator=generator).ainvoke(
            exec_request, make_config(approval="never")
        )
    assert generator.call_count == 0


async def test_concurrent_requests_do_not_interfere(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator("results = {'value': 42}"))

    results = await asyncio.gather(
        *(service.ainvoke(exec_request, make_config(thread_id=f"t{i}")) for i in range(3))
    )

    assert [r.execution_result.results for r in results] == [{"value": 42}] * 3
    assert len({r.execution_result.folder_path for r in results}) == 3


# --- approval --------------------------------------------------------------------------


async def test_a_write_needs_approval_and_nothing_runs_before_it(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))

    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, make_config(thread_id="approve-me"))

    approval = info.value
    assert approval.thread_id == "approve-me"
    assert approval.code == WRITE_CODE
    assert isinstance(approval.analysis, CodeAnalysis)
    assert [w.channel for w in approval.analysis.channel_writes] == ["MAGNET:QF1:SETPOINT"]
    assert approval.reasons == [
        "control-system write at line 4: write_channel('MAGNET:QF1:SETPOINT')"
    ]
    assert "aresume('approve-me', approved=True)" in str(approval)
    assert service.pending_approvals == ["approve-me"]
    assert execution_folders(execution_root) == []


async def test_approving_runs_the_code_and_reports_the_write(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))
    with pytest.raises(ApprovalRequired):
        await service.ainvoke(exec_request, make_config())

    result = await service.aresume("t1", approved=True)

    execution = result.execution_result
    assert execution.results == {"previous": 120.0, "value": 42}
    assert [(w.channel, w.value, w.previous) for w in execution.channel_writes] == [
        ("MAGNET:QF1:SETPOINT", 121.5, 120.0)
    ]
    assert final_setpoint(execution.folder_path) == 121.5
    assert service.pending_approvals == []


async def test_rejecting_runs_nothing(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))
    with pytest.raises(ApprovalRequired):
        await service.ainvoke(exec_request, make_config())

    with pytest.raises(ApprovalRejected, match="rejected and not executed"):
        await service.aresume("t1", approved=False)

    assert execution_folders(execution_root) == []
    with pytest.raises(NoPendingApproval):
        await service.aresume("t1", approved=True)


async def test_resuming_an_unknown_thread_says_what_is_waiting(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))
    with pytest.raises(ApprovalRequired):
        await service.ainvoke(exec_request, make_config(thread_id="real"))

    with pytest.raises(NoPendingApproval, match=r"'typo'.*waiting: 'real'"):
        await service.aresume("typo", approved=True)


async def test_a_generated_thread_id_works_for_resume(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))
    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, make_config(thread_id=None))

    result = await service.aresume(info.value.thread_id, approved=True)

    assert result.execution_result.results["value"] == 42


async def test_reads_alone_need_no_approval(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(READ_CODE))

    result = await service.ainvoke(exec_request, make_config(approval="control_writes"))

    assert result.execution_result.results == {"current": 500.0, "value": 42}


async def test_all_code_mode_asks_for_everything(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator("results = {'value': 1}"))

    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, make_config(approval="all_code"))

    assert "all_code" in info.value.reasons[0]
    result = await service.aresume("t1", approved=True)
    assert result.execution_result.results == {"value": 1}


async def test_disabled_mode_writes_without_asking(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(WRITE_CODE))

    result = await service.ainvoke(exec_request, make_config(approval="disabled"))

    assert final_setpoint(result.execution_result.folder_path) == 121.5


async def test_a_write_hidden_from_the_analyser_is_refused_at_runtime(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator(HIDDEN_WRITE_CODE))

    with pytest.raises(CodeRuntimeError, match="PermissionError") as info:
        await service.ainvoke(exec_request, make_config(approval="control_writes"))

    last = info.value.error_chain[-1]
    assert isinstance(last, ExecutionError)
    assert "not approved for control-system writes" in last.error_message


async def test_a_failed_approved_run_retries_and_asks_again(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    failing_write = "write_channel('MAGNET:QF1:SETPOINT', 1.0)\nresults = {'value': 1 / 0}\n"
    generator = ScriptedGenerator(failing_write, WRITE_CODE)
    service = PythonExecutorService(generator=generator)
    with pytest.raises(ApprovalRequired):
        await service.ainvoke(exec_request, make_config())

    with pytest.raises(ApprovalRequired) as info:
        await service.aresume("t1", approved=True)

    assert info.value.code == WRITE_CODE
    assert [e.error_message for e in info.value.error_chain] == [  # type: ignore[union-attr]
        "ZeroDivisionError: division by zero"
    ]
    result = await service.aresume("t1", approved=True)
    assert result.generation_attempt == 2
    assert len(result.error_chain) == 1
    assert [len(chain) for chain in generator.chains] == [0, 1]


async def test_configured_channels_seed_the_simulation(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "results = {'v': read_channel('MY:CHANNEL')}"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config(channels={"MY:CHANNEL": 5}))

    assert result.execution_result.results == {"v": 5}


async def test_reading_an_unknown_channel_is_a_runtime_error_naming_known_ones(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(
        generator=ScriptedGenerator("results = {'v': read_channel('NOPE')}")
    )

    with pytest.raises(CodeRuntimeError, match="KeyError") as info:
        await service.ainvoke(
            exec_request.model_copy(update={"retries": 1}), make_config(channels={"ONLY:ONE": 1})
        )

    assert "known channels: ONLY:ONE" in str(info.value)
