"""Hard limits: time, memory and output end badly behaved code, and the service carries on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from replaycodegen.errors import CodeRuntimeError
from replaycodegen.executor import PythonExecutorService
from replaycodegen.executor.runner import RunLimits, create_execution_folder, run_code
from replaycodegen.models import ExecutionError, PythonExecutionRequest
from replaycodegen.runtime import DEFAULT_CHANNELS

from .conftest import ConfigFactory
from .helpers import ProcessWatch, ScriptedGenerator, ends

SUCCESS = "results = {'value': 42}"


async def fail_then_recover(
    bad_code: str, request: PythonExecutionRequest, config: dict[str, object]
) -> ExecutionError:
    """Run ``bad_code`` to its error, then check the same service still serves a request."""
    service = PythonExecutorService(generator=ScriptedGenerator(bad_code, SUCCESS))
    one_attempt = request.model_copy(update={"retries": 1})

    with pytest.raises(CodeRuntimeError) as info:
        await service.ainvoke(one_attempt, config)

    recovered = await service.ainvoke(one_attempt, config)
    assert recovered.execution_result.results == {"value": 42}
    (error,) = info.value.error_chain
    assert isinstance(error, ExecutionError)
    return error


async def test_an_infinite_loop_ends_at_the_timeout(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    error = await fail_then_recover(
        "while True:\n    pass\n", exec_request, make_config(timeout_seconds=1)
    )

    assert error.error_type == "TimeoutError"
    assert "did not finish within 1 s" in error.error_message
    assert "execution.timeout_seconds" in error.error_message


async def test_allocating_10_gb_ends_at_the_memory_limit(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    error = await fail_then_recover(
        "data = bytearray(10 * 1024 ** 3)\nresults = {}\n",
        exec_request,
        make_config(memory_limit_mb=256),
    )

    assert error.error_type == "MemoryError"
    assert "execution.memory_limit_mb=256" in error.error_message


async def test_printing_100_mb_is_truncated(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = (
        "chunk = 'x' * 1_000_000\nfor _ in range(100):\n    print(chunk)\nresults = {'value': 42}"
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code, SUCCESS))

    result = await service.ainvoke(exec_request, make_config(max_output_bytes=10_000))

    stdout = result.execution_result.stdout
    assert stdout.startswith("x" * 10_000)
    assert "output truncated: 99990100 more bytes were discarded" in stdout
    assert len(stdout) < 10_200
    assert result.execution_result.results == {"value": 42}
    assert (await service.ainvoke(exec_request, make_config())).generation_attempt == 1


async def test_the_timeout_also_kills_processes_the_code_started(tmp_path: Path) -> None:
    # The runner alone (the service would refuse subprocess): a child that outlives the code.
    code = """
        import os, subprocess, time
        os.mkdir("child")
        child = subprocess.Popen(["sleep", "60"], cwd="child")
        time.sleep(60)
    """
    folder = create_execution_folder(tmp_path / "runs", "group-kill")

    async with ProcessWatch(folder) as watch:
        outcome = await run_code(
            textwrap.dedent(code),
            folder,
            limits=RunLimits(timeout_seconds=1.5, memory_limit_mb=None, max_output_bytes=1000),
            channels=DEFAULT_CHANNELS,
            writes_allowed=False,
        )

    assert outcome.failure is not None and outcome.failure.error_type == "TimeoutError"
    (child,) = watch.pids(under="child")
    assert await ends(child)
