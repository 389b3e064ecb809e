"""Record the real loop against an OpenAI-compatible server on 127.0.0.1, then replay offline."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from replaycodegen import (
    MockCodeGenerator,
    OpenAICodeGenerator,
    PythonExecutionRequest,
    PythonExecutorService,
    RecordingCodeGenerator,
    load_cassette,
)
from replaycodegen.testing import FakeOpenAIServer, fenced

REQUEST = PythonExecutionRequest(
    user_query="Ratio of beam current to energy",
    task_objective="Divide the beam current by the beam energy",
    expected_results={"ratio": "float"},
    execution_folder_name="e2e",
)
BROKEN = "from replaycodegen.runtime import read_channel\nresults = {'ratio': 1 / 0}\n"
FIXED = (
    "from replaycodegen.runtime import read_channel\n"
    "results = {'ratio': read_channel('BEAM:CURRENT') / read_channel('BEAM:ENERGY')}\n"
)


def _config(tmp_path: Path) -> dict[str, object]:
    return {"thread_id": "e2e", "configurable": {
        "execution": {"execution_root": str(tmp_path / "runs"), "timeout_seconds": 30}}}


@pytest.mark.slow
async def test_record_the_loop_then_replay_it_with_the_server_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_key = "sk-" + secrets.token_urlsafe(24)
    monkeypatch.setenv("OPENAI_API_KEY", fake_key)
    cassette = tmp_path / "cassettes" / "ratio.yaml"
    with FakeOpenAIServer() as server:
        server.queue_response(f"Here you go:\n{fenced(BROKEN)}")
        server.queue_response(f"Fixed the division:\n{fenced(FIXED)}\nDone.")
        real = OpenAICodeGenerator("fake-model", base_url=server.base_url, max_retries=0)
        async with RecordingCodeGenerator(real, cassette, "once") as recorder:
            recorded = await PythonExecutorService(generator=recorder).ainvoke(
                REQUEST, _config(tmp_path))
        assert len(server.requests) == 2
        assert "ZeroDivisionError" in str(server.requests[1])  # the chain reached the prompt

    assert recorded.generation_attempt == 2
    assert recorded.execution_result.results == {"ratio": 500.0 / 3.0}
    entries = load_cassette(cassette).entries
    assert [len(e.error_chain) for e in entries] == [0, 1]
    assert entries[1].error_chain[0].type == "ZeroDivisionError"
    assert entries[0].meta["model"] == "fake-model" and entries[0].meta["usage"]
    assert fake_key not in cassette.read_text()

    # the server is gone: replay serves the same code for the same request and chain
    replay = MockCodeGenerator(cassette=cassette)
    replayed = await PythonExecutorService(generator=replay).ainvoke(REQUEST, _config(tmp_path))
    assert replayed.generated_code == recorded.generated_code == FIXED.strip()
    assert replayed.generation_attempt == 2
    assert replayed.execution_result.results == recorded.execution_result.results
    assert replay.call_count == 2
