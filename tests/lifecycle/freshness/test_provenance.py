"""Provenance: recordings say ``origin: recorded`` and keep the sha256 of their code;
re-recording (``all``, ``rewrite``, ``stale``) never replaces or drops crafted or hand
entries, and says which it kept."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from replaycodegen import OpenAICodeGenerator, PythonExecutionRequest, RecordingCodeGenerator
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.provenance import code_sha256, hand_edited
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.maintenance.craft import inject_failure
from replaycodegen.testing import FakeOpenAIServer, fenced
from tests.cli.conftest import Invoke
from tests.lifecycle.freshness.helpers import KEY, record, write_requests
from tests.lifecycle.freshness.test_rerecord import entry_spans


def ask(query: str) -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query=query, task_objective="answer it",
                                  execution_folder_name="provenance")


@pytest.fixture
def generator(server: FakeOpenAIServer) -> Iterator[OpenAICodeGenerator]:
    yield OpenAICodeGenerator("fake-model", api_key=KEY, base_url=server.base_url)


async def test_a_recording_says_recorded_and_keeps_the_sha256_of_its_code(
    server: FakeOpenAIServer, generator: OpenAICodeGenerator, tmp_path: Path
) -> None:
    server.reported_model = "fake-model-2024-07-18"
    server.queue_response(fenced("value = 1   \nresults = {'value': value}\n\n"))
    path = tmp_path / "c.yaml"
    with RecordingCodeGenerator(generator, path, "new_episodes") as recorder:
        await recorder.generate_code(ask("q"), [])
    entry = load_cassette(path).entries[0]
    assert entry.origin == "recorded"
    assert entry.meta["code_sha256"] == code_sha256(entry.code)
    assert entry.meta["code_sha256"] == hashlib.sha256(
        b"value = 1\nresults = {'value': value}").hexdigest()  # as stored: blanks stripped
    assert entry.meta["model"] == "fake-model-2024-07-18"
    assert entry.meta["requested_model"] == "fake-model"
    assert not hand_edited(entry)
    entry.code += "\n# edited"
    assert hand_edited(entry)


async def _cassette_with_kept_entries(generator: OpenAICodeGenerator, path: Path) -> None:
    """e1 recorded ('one'); e2 recorded then marked hand ('two'); 'three' crafted into
    e3-inject-runtime_error (attempt 1) and e3 (attempt 2), both crafted."""
    with RecordingCodeGenerator(generator, path, "new_episodes") as recorder:
        for query in ("one", "two", "three"):
            await recorder.generate_code(ask(query), [])
    with CassetteStore(path).update() as edit:
        edit.get("e2").origin = "hand"
        edit.touch("e2")
        inject_failure(edit.cassette, "e3", "runtime_error")


@pytest.mark.parametrize("mode", ["all", "rewrite"])
async def test_rerecording_keeps_crafted_and_hand_entries(
    server: FakeOpenAIServer, generator: OpenAICodeGenerator, tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "kept.yaml"
    await _cassette_with_kept_entries(generator, path)
    before = entry_spans(path.read_text(encoding="utf-8"))
    server.reset()
    server.set_responder(lambda body: fenced("results = {'fresh': True}"))
    with RecordingCodeGenerator(generator, path, mode) as recorder:
        codes = [await recorder.generate_code(ask(q), []) for q in ("one", "two", "three")]
        assert [e.id for e in recorder.kept] == ["e2", "e3-inject-runtime_error", "e3"]
    assert len(server.requests) == 1  # only 'one' went live; the kept entries answered
    assert codes[0] == "results = {'fresh': True}"
    assert codes[2].startswith("# crafted by `replaycodegen craft --inject runtime_error`")
    after = entry_spans(path.read_text(encoding="utf-8"))
    for entry_id in ("e2", "e3-inject-runtime_error", "e3"):
        assert after[entry_id] == before[entry_id]  # kept to the byte
    cassette = load_cassette(path)
    recorded = [e for e in cassette.entries if e.effective_origin == "recorded"]
    assert [e.code for e in recorded] == ["results = {'fresh': True}"]


def test_the_cli_says_which_entries_it_kept(invoke: Invoke, server: FakeOpenAIServer,
                                           isolated: Path) -> None:
    write_requests(isolated / "r.yaml", "one", "two", "three")
    assert record(invoke, server, "--cassette", "c.yaml", "--requests", "r.yaml").exit_code == 0
    assert invoke("craft", "c.yaml", "--entry", "e3", "--inject", "runtime_error").exit_code == 0
    server.reset()
    result = record(invoke, server, "--cassette", "c.yaml", "--requests", "r.yaml", "--mode",
                    "all")
    assert result.exit_code == 0, result.output
    assert "kept (never re-recorded): 2 crafted (e3-inject-runtime_error, e3)" in result.stdout
    assert len(server.requests) == 2  # 'three' was answered by the crafted entries
