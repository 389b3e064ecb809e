"""The approval gate lives in the service: unapproved writes are refused and reported,
whatever the code does to its environment, the runtime module or its folder.

Every attack here hides its write from the analyser (so the code runs without approval
under ``control_writes``), then tries to make it count. Each runs under ``sandbox`` and
under ``process``: the gate does not depend on the isolation.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.errors import ApprovalRequired, CodeRuntimeError
from replaycodegen.executor import PythonExecutorService, PythonServiceResult
from replaycodegen.executor.results import ChannelWrite, RefusedChannelWrite
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import SANDBOX_MISSING, ScriptedGenerator

CHANNEL = "MAGNET:QF1:SETPOINT"
ISOLATIONS = [
    pytest.param(
        "sandbox", marks=pytest.mark.skipif(bool(SANDBOX_MISSING), reason=SANDBOX_MISSING)
    ),
    "process",
]
# Reaches write_channel without naming it, so the analyser sees no write.
HIDDEN_WRITE = 'globals()["write_" + "channel"]'


@pytest.fixture(params=ISOLATIONS)
def gate_config(request: pytest.FixtureRequest, make_config: ConfigFactory) -> dict[str, Any]:
    return make_config(approval="control_writes", isolation=request.param)


async def run(code: str, exec_request: PythonExecutionRequest, config: dict[str, Any]
              ) -> PythonServiceResult:
    service = PythonExecutorService(generator=ScriptedGenerator(textwrap.dedent(code)))
    return await service.ainvoke(exec_request.model_copy(update={"retries": 1}), config)


def final_state(result: PythonServiceResult) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(
        (result.execution_result.folder_path / "control_system.json").read_text()
    )
    return state


def assert_refused(result: PythonServiceResult, value: Any) -> None:
    execution = result.execution_result
    assert execution.channel_writes == []
    assert RefusedChannelWrite(CHANNEL, value) in execution.refused_channel_writes
    state = final_state(result)
    assert state["channels"][CHANNEL] == 120.0
    assert state["writes"] == []
    assert {"channel": CHANNEL, "value": value} in state["refused_writes"]


async def test_setting_the_old_environment_switch_grants_nothing(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = f"""
        import os
        os.environ["REPLAYCODEGEN_WRITES_ALLOWED"] = "1"
        try:
            {HIDDEN_WRITE}("{CHANNEL}", 1.0)
            outcome = "written"
        except PermissionError as exc:
            outcome = str(exc)
        results = {{"outcome": outcome}}
    """

    result = await run(code, exec_request, gate_config)

    assert "not approved for control-system writes" in result.execution_result.results["outcome"]
    assert_refused(result, 1.0)


async def test_calling_the_runtimes_private_functions_grants_nothing(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = f"""
        import os
        import replaycodegen.runtime as rt
        fd = os.dup(int(os.environ["REPLAYCODEGEN_CONTROL_FD"]))
        outcomes = []
        for attempt in (lambda: rt._get_backend().write({{"{CHANNEL}": 2.0}}),
                        lambda: rt._SocketBackend(fd).write({{"{CHANNEL}": 2.0}})):
            try:
                attempt()
                outcomes.append("written")
            except PermissionError:
                outcomes.append("refused")
        results = {{"outcomes": outcomes}}
    """

    result = await run(code, exec_request, gate_config)

    assert result.execution_result.results["outcomes"] == ["refused", "refused"]
    assert_refused(result, 2.0)


async def test_a_hand_made_frame_on_the_socket_is_refused_too(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = f"""
        import json, os, struct
        fd = int(os.environ["REPLAYCODEGEN_CONTROL_FD"])
        body = json.dumps({{"op": "write", "values": {{"{CHANNEL}": 3.0}}}}).encode()
        os.write(fd, b"R" + struct.pack(">I", len(body)) + body)
        header = os.read(fd, 5)
        answer = json.loads(os.read(fd, struct.unpack(">I", header[1:])[0]))
        results = {{"answer": answer}}
    """

    result = await run(code, exec_request, gate_config)

    assert result.execution_result.results["answer"]["error"] == "PermissionError"
    assert_refused(result, 3.0)


async def test_monkeypatching_the_runtime_writes_only_a_local_file(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = f"""
        import os
        import replaycodegen.runtime as rt
        del os.environ["REPLAYCODEGEN_CONTROL_FD"]
        rt._backend = rt._FileBackend()  # the by-hand mode: a JSON file in the folder
        {HIDDEN_WRITE}("{CHANNEL}", 4.0)
        results = {{"local": rt.read_channel("{CHANNEL}")}}
    """

    result = await run(code, exec_request, gate_config)

    assert result.execution_result.results == {"local": 4.0}  # the code fooled only itself
    assert result.execution_result.channel_writes == []
    state = final_state(result)  # rewritten by the service after the run
    assert state["channels"][CHANNEL] == 120.0
    assert state["writes"] == []


async def test_editing_or_planting_the_folders_files_changes_nothing(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any], tmp_path: Path
) -> None:
    outside = tmp_path / "outside-target.json"
    outside.write_text("untouched")
    code = f"""
        import json, os
        with open("control_system.json", "w") as handle:
            json.dump({{"channels": {{"{CHANNEL}": 5.0}},
                       "writes": [{{"channel": "{CHANNEL}", "value": 5.0}}]}}, handle)
        for target in [{str(outside)!r}]:
            os.symlink(target, "outcome.json")
        os.mkdir("notebook.ipynb")
        results = {{"value": 42}}
    """

    result = await run(code, exec_request, gate_config)

    assert result.execution_result.results == {"value": 42}
    assert result.execution_result.channel_writes == []
    assert final_state(result)["channels"][CHANNEL] == 120.0
    folder = result.execution_result.folder_path
    assert not (folder / "outcome.json").is_symlink()  # the service replaced the link ...
    assert outside.read_text() == "untouched"  # ... and never wrote through it


async def test_a_forged_outcome_file_is_not_a_result(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = """
        import json, os
        with open("outcome.json", "w") as handle:
            json.dump({"status": "ok", "results": {"forged": True}}, handle)
        os._exit(0)
    """

    with pytest.raises(CodeRuntimeError) as info:
        await run(code, exec_request, gate_config)

    assert info.value.error_chain[-1].error_type == "ProcessExited"  # type: ignore[union-attr]


async def test_an_approved_write_still_happens_and_is_reported(
    exec_request: PythonExecutionRequest, gate_config: dict[str, Any]
) -> None:
    code = f'write_channels({{"{CHANNEL}": 121.5, "BEAM:ENERGY": 3.5}})\nresults = {{}}\n'
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    with pytest.raises(ApprovalRequired) as pending:
        await service.ainvoke(exec_request, gate_config)
    result = await service.aresume(pending.value.thread_id, approved=True)

    assert result.execution_result.channel_writes == [
        ChannelWrite(CHANNEL, 121.5, 120.0),
        ChannelWrite("BEAM:ENERGY", 3.5, 3.0),
    ]
    assert final_state(result)["channels"][CHANNEL] == 121.5
