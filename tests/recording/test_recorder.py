"""RecordingCodeGenerator and the record modes."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from replaycodegen import (
    CassetteError,
    CassetteMiss,
    CodeGenerationError,
    ExecutionError,
    MockCodeGenerator,
    PythonExecutionRequest,
    load_cassette,
)
from replaycodegen.generation import RecordingCodeGenerator
from replaycodegen.generation.record_mode import RecordMode, default_record_mode

from .conftest import ScriptedGenerator

REQ = PythonExecutionRequest(
    user_query="Mean beam current", task_objective="mean", execution_folder_name="f"
)
OTHER = REQ.model_copy(update={"user_query": "Max beam current"})
ERR = ExecutionError("ZeroDivisionError", "division by zero", failed_code="1/0", stage="execution")


def test_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="none, once, new_episodes, all, rewrite"):
        RecordMode.parse("sometimes")


def test_default_mode_depends_on_ci() -> None:
    assert default_record_mode({}) is RecordMode.ONCE
    assert default_record_mode({"CI": "true"}) is RecordMode.NONE
    assert default_record_mode({"CI": "false"}) is RecordMode.ONCE


def test_none_mode_argument_means_default(
    tmp_path: Path, scripted: ScriptedGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    assert RecordingCodeGenerator(scripted, tmp_path / "a.yaml").record_mode is RecordMode.NONE
    monkeypatch.delenv("CI")
    assert RecordingCodeGenerator(scripted, tmp_path / "a.yaml").record_mode is RecordMode.ONCE


async def test_once_records_a_new_file_then_replays(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "deep" / "dir" / "c.yaml"
    with RecordingCodeGenerator(scripted, path, "once") as recorder:
        first = await recorder.generate_code(REQ, [])
        fixed = await recorder.generate_code(REQ, [ERR])
    assert scripted.calls == 2 and path.exists()
    replay = RecordingCodeGenerator(ScriptedGenerator(), path, "once")
    assert await replay.generate_code(REQ, []) == first
    assert await replay.generate_code(REQ, [ERR]) == fixed
    with pytest.raises(CassetteMiss) as info:
        await replay.generate_code(OTHER, [])
    assert "new_episodes" in str(info.value)
    mock = MockCodeGenerator(cassette=path)
    assert await mock.generate_code(REQ, [ERR]) == fixed


async def test_none_mode_never_calls_the_generator(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    recorder = RecordingCodeGenerator(scripted, tmp_path / "missing.yaml", "none")
    with pytest.raises(CassetteMiss) as info:
        await recorder.generate_code(REQ, [])
    assert info.value.reason == "no such cassette"
    assert scripted.calls == 0
    assert not (tmp_path / "missing.yaml").exists()


async def test_new_episodes_replays_hits_and_records_misses(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    async with RecordingCodeGenerator(scripted, path, "new_episodes") as rec:
        await rec.generate_code(REQ, [])
    async with RecordingCodeGenerator(scripted, path, "new_episodes") as rec:
        await rec.generate_code(REQ, [])  # hit
        await rec.generate_code(OTHER, [])  # miss -> recorded
        assert [e.id for e in rec.recorded] == ["e2"]
    assert scripted.calls == 2
    assert len(load_cassette(path)) == 2


async def test_repeated_request_records_again_in_a_recording_mode(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(scripted, path, "new_episodes")
    a = await rec.generate_code(REQ, [])
    b = await rec.generate_code(REQ, [])
    assert a != b and len(load_cassette(path)) == 2
    mock = MockCodeGenerator(cassette=path)
    assert [await mock.generate_code(REQ, []) for _ in range(3)] == [a, b, b]


async def test_all_mode_replaces_matching_entries(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(scripted, path, "new_episodes")
    await rec.generate_code(REQ, [])
    await rec.generate_code(OTHER, [])
    again = RecordingCodeGenerator(scripted, path, "all")
    new = await again.generate_code(REQ, [])
    assert scripted.calls == 3
    cassette = load_cassette(path)
    assert len(cassette) == 2
    assert await MockCodeGenerator(cassette=path).generate_code(REQ, []) == new


async def test_rewrite_starts_afresh(tmp_path: Path, scripted: ScriptedGenerator) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(scripted, path, "new_episodes")
    await rec.generate_code(REQ, [])
    await rec.generate_code(OTHER, [])
    rewrite = RecordingCodeGenerator(scripted, path, "rewrite")
    assert len(load_cassette(path)) == 0
    await rewrite.generate_code(REQ, [])
    assert len(load_cassette(path)) == 1


async def test_failures_of_the_real_generator_are_never_recorded(
    tmp_path: Path, failing: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(failing, path, "new_episodes")
    with pytest.raises(CodeGenerationError):
        await rec.generate_code(REQ, [])
    assert not path.exists() or len(load_cassette(path)) == 0
    assert rec.recorded == []


async def test_what_a_recording_stores(tmp_path: Path, scripted: ScriptedGenerator) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(scripted, path, "once")
    await rec.generate_code(REQ, [ERR])
    entry = yaml.safe_load(path.read_text())["entries"][0]
    assert entry["request"]["user_query"] == "Mean beam current"
    assert "execution_folder_name" not in entry["request"]
    assert entry["error_chain"] == [
        {"type": "ZeroDivisionError", "stage": "execution", "message": "division by zero"}
    ]
    assert entry["code"].startswith("# call 1")
    assert entry["response"].startswith("```python")
    meta = entry["meta"]
    assert meta["model"] == "scripted-1" and meta["provider"] == "test"
    assert meta["usage"]["total_tokens"] == 15
    assert meta["prompt_sha256"] == "ab" * 32
    assert "latency_ms" in meta and meta["recorded_at"].endswith("Z")
    assert "headers" not in meta
    assert "Bearer" not in path.read_text()
    assert len(entry["key"]) == 64


async def test_recorder_metadata(tmp_path: Path, scripted: ScriptedGenerator) -> None:
    rec = RecordingCodeGenerator(scripted, tmp_path / "c.yaml", "once")
    await rec.generate_code(REQ, [])
    meta = rec.get_generation_metadata()
    assert meta["recorded"] is True and meta["record_mode"] == "once"
    assert meta["entry_id"] == "e1"


async def test_corrupt_cassette_is_never_replaced(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nentries:\n  - id: [broken\n")
    before = path.read_bytes()
    for mode in ("once", "new_episodes", "all", "rewrite"):
        with pytest.raises(CassetteError):
            RecordingCodeGenerator(scripted, path, mode)
    assert path.read_bytes() == before


def test_bad_paths_are_refused_and_nothing_is_written(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    with pytest.raises(CassetteError, match="is a directory"):
        RecordingCodeGenerator(scripted, tmp_path, "new_episodes")
    not_a_cassette = tmp_path / "notes.yaml"
    not_a_cassette.write_text("just: some yaml\n")
    with pytest.raises(CassetteError, match="unknown field 'just'"):
        RecordingCodeGenerator(scripted, not_a_cassette, "new_episodes")
    assert not_a_cassette.read_text() == "just: some yaml\n"
    read_only = tmp_path / "ro.yaml"
    read_only.write_text("version: 1\nentries: []\n")
    read_only.chmod(0o444)
    with pytest.raises(CassetteError, match="read-only"):
        RecordingCodeGenerator(scripted, read_only, "new_episodes")
    assert read_only.read_text() == "version: 1\nentries: []\n"


async def test_match_on_conflict_is_reported(tmp_path: Path, scripted: ScriptedGenerator) -> None:
    path = tmp_path / "c.yaml"
    await RecordingCodeGenerator(scripted, path, "once").generate_code(REQ, [])
    with pytest.raises(CassetteError, match="keys on"):
        RecordingCodeGenerator(scripted, path, "new_episodes", match_on=["user_query"])


async def test_concurrent_asyncio_tasks_lose_nothing(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    import asyncio

    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(scripted, path, "new_episodes")
    requests = [REQ.model_copy(update={"user_query": f"q{i}"}) for i in range(30)]
    await asyncio.gather(*(rec.generate_code(r, []) for r in requests))
    cassette = load_cassette(path)
    assert len(cassette) == 30
    assert len({e.id for e in cassette.entries}) == 30


async def test_hand_authored_entries_survive_recording(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\n# crafted by hand\nentries:\n  - id: crafted\n"
        "    when: {error_contains: NameError}\n    code: |\n      fixed = 1\n"
    )
    rec = RecordingCodeGenerator(scripted, path, "new_episodes")
    assert await rec.generate_code(REQ, ["NameError: x"]) == "fixed = 1\n"
    await rec.generate_code(REQ, [])
    text = path.read_text()
    assert "# crafted by hand" in text  # appended, not rewritten
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [e.id for e in load_cassette(path).entries] == ["crafted", "e2"]


async def test_replay_only_modes_accept_a_read_only_cassette(
    tmp_path: Path, scripted: ScriptedGenerator
) -> None:
    path = tmp_path / "c.yaml"
    first = await RecordingCodeGenerator(scripted, path, "once").generate_code(REQ, [])
    path.chmod(0o444)
    for mode in ("none", "once"):
        assert await RecordingCodeGenerator(scripted, path, mode).generate_code(REQ, []) == first
    with pytest.raises(CassetteError, match="read-only"):
        RecordingCodeGenerator(scripted, path, "new_episodes")
