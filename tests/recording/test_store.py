"""Cassette writes never lose or leak anything: atomic, incremental, locked, scrubbed."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from replaycodegen import (
    CassetteError,
    CassetteWarning,
    ExecutionError,
    MockCodeGenerator,
    PythonExecutionRequest,
    load_cassette,
)
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.serialize import dump_cassette
from replaycodegen.cassette.writing.store import CassetteStore, append_indent, atomic_write
from replaycodegen.generation import RecordingCodeGenerator

from .conftest import ScriptedGenerator

REQ = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")

_WORKER = textwrap.dedent("""
    import asyncio, sys
    from replaycodegen import PythonExecutionRequest
    from replaycodegen.generation import RecordingCodeGenerator

    class Gen:
        async def generate_code(self, request, chain):
            return f"results = {{'q': {request.user_query!r}}}\\n"
        def get_generation_metadata(self):
            return {"model": "fake"}

    async def main(path, worker, count):
        rec = RecordingCodeGenerator(Gen(), path, "new_episodes")
        for i in range(count):
            r = PythonExecutionRequest(user_query=f"w{worker}-{i}", task_objective="o",
                                       execution_folder_name="f")
            await rec.generate_code(r, [])
            print(i, flush=True)
        rec.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
""")


def _spawn(path: Path, worker: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(path), str(worker), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_four_processes_times_25_recordings_leave_100_entries(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    procs = [_spawn(path, w, 25) for w in range(4)]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cassette = load_cassette(path)
    assert len(cassette) == 100
    assert len({e.id for e in cassette.entries}) == 100
    queries = {e.request["user_query"] for e in cassette.entries if e.request}
    assert queries == {f"w{w}-{i}" for w in range(4) for i in range(25)}


@pytest.mark.slow
def test_a_recorder_killed_with_sigkill_leaves_a_cassette_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "killed.yaml"
    proc = _spawn(path, 0, 100_000)
    assert proc.stdout is not None
    for _ in range(50):  # wait until at least 50 recordings were handed to the OS
        proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CassetteWarning)
        cassette = load_cassette(path)
    assert len(cassette) >= 50
    # and recording can go on from there
    rec = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    asyncio.run(rec.generate_code(REQ, []))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_cassette(path)) == len(cassette) + 1


def test_torn_last_entry_is_ignored_with_a_warning(tmp_path: Path) -> None:
    cassette = Cassette()
    for i in range(3):
        cassette.add(
            entry_from_pair(
                entry_id=f"e{i + 1}",
                request=REQ.model_copy(update={"user_query": f"q{i}"}),
                error_chain=[],
                code="results = {}\nx = 1\n",
                match_on=DEFAULT_MATCH_ON,
                meta={"recorded_at": "2026-01-01T00:00:00Z"},
            )
        )
    text = dump_cassette(cassette)
    path = tmp_path / "torn.yaml"
    path.write_text(text[: len(text) - 30])  # cut inside the last entry
    with pytest.warns(CassetteWarning, match="cut short"):
        loaded = load_cassette(path)
    assert [e.id for e in loaded.entries] == ["e1", "e2"]
    assert loaded.torn_tail


def test_atomic_write_failure_leaves_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nentries: []\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CassetteError, match="No space left on device; the previous file is intact"):
        atomic_write(path, "version: 1\nentries: [partial")
    assert path.read_text() == "version: 1\nentries: []\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]  # temp file removed


async def test_failed_append_is_truncated_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    await rec.generate_code(REQ, [])
    before = path.read_bytes()
    import replaycodegen.cassette.writing.store as store_module

    real_write = store_module.write_fully

    def half_then_fail(fd: int, data: bytes) -> None:
        real_write(fd, data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "write_fully", half_then_fail)
    with pytest.raises(CassetteError, match="previous content is intact"):
        await rec.generate_code(REQ.model_copy(update={"user_query": "other"}), [])
    monkeypatch.undo()
    assert path.read_bytes() == before


async def test_appends_merge_entries_written_by_another_store(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    a = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    b = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    await a.generate_code(REQ.model_copy(update={"user_query": "a1"}), [])
    await b.generate_code(REQ.model_copy(update={"user_query": "b1"}), [])
    await a.generate_code(REQ.model_copy(update={"user_query": "a2"}), [])
    ids = [e.id for e in load_cassette(path).entries]
    assert ids == ["e1", "e2", "e3"]
    # a now knows b's entry and replays it without calling its generator
    calls = a.generator.calls  # type: ignore[attr-defined]
    await a.generate_code(REQ.model_copy(update={"user_query": "b1"}), [])
    assert a.generator.calls == calls  # type: ignore[attr-defined]


def test_append_indent_detection() -> None:
    assert append_indent("version: 1\nentries:\n  - id: a\n    code: x\n") == "  "
    assert append_indent("version: 1\nentries:\n- id: a\n  code: x\n") == ""
    assert append_indent("version: 1\nentries: []\n") is None
    assert append_indent("entries:\n  - id: a\n    code: x\nversion: 1\n") is None


async def test_secrets_never_reach_any_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_key = "sk-" + secrets.token_urlsafe(32)
    planted = "pw-" + secrets.token_hex(12)
    monkeypatch.setenv("OPENAI_API_KEY", fake_key)
    monkeypatch.setenv("MY_SERVICE_PASSWORD", planted)

    class Leaky(ScriptedGenerator):
        async def generate_code(self, request, error_chain):  # type: ignore[no-untyped-def]
            return f"API = {fake_key!r}\nPW = {planted!r}\nresults = {{}}\n"

        def get_generation_metadata(self):  # type: ignore[no-untyped-def]
            return {"model": f"m-{planted}", "raw_response": f"Bearer {fake_key}"}

    request = REQ.model_copy(update={"user_query": f"use password {planted} please"})
    error = ExecutionError("AuthError", f"bad key {fake_key}", stage="execution")
    path = tmp_path / "cassettes" / "secret.yaml"
    rec = RecordingCodeGenerator(Leaky(), path, "new_episodes", secrets=[fake_key])
    await rec.generate_code(request, [])
    await rec.generate_code(request, [error])
    rec.close()
    for written in tmp_path.rglob("*"):
        if written.is_file():
            content = written.read_bytes()
            assert fake_key.encode() not in content, written
            assert planted.encode() not in content, written
    assert "<SCRUBBED>" in path.read_text()
    # replay still works: the live request is scrubbed the same way before its key is
    # computed, so the entry is keyed on the scrubbed text and no hash of a secret is kept
    mock = MockCodeGenerator(cassette=path)
    assert "<SCRUBBED>" in await mock.generate_code(request, [])
    assert await mock.generate_code(request, [error])
    first = load_cassette(path).entries[0]
    assert first.scrubbed == [] and first.stored_key == first.key
    assert first.request is not None and first.request["user_query"] == (
        "use password <SCRUBBED> please")


def test_store_write_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_TOKEN", "tok-1234567890")
    cassette = Cassette()
    cassette.add(
        entry_from_pair(
            entry_id="e1",
            request=REQ,
            error_chain=[],
            code="token = 'tok-1234567890'\n",
            match_on=DEFAULT_MATCH_ON,
        )
    )
    path = tmp_path / "c.yaml"
    CassetteStore(path).write(cassette)
    assert "tok-1234567890" not in path.read_text()


@pytest.mark.slow
def test_recording_stays_linear_in_file_writes(tmp_path: Path) -> None:
    """Each recording appends: the bytes written grow linearly, never a full rewrite each time."""
    path = tmp_path / "c.yaml"
    rec = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    sizes = []
    for i in range(40):
        asyncio.run(rec.generate_code(REQ.model_copy(update={"user_query": f"q{i}"}), []))
        sizes.append(path.stat().st_size)
    inode = path.stat().st_ino
    asyncio.run(rec.generate_code(REQ.model_copy(update={"user_query": "last"}), []))
    assert path.stat().st_ino == inode  # appended in place, not replaced
    deltas = {b - a for a, b in itertools.pairwise(sizes[5:])}
    assert max(deltas) < 2 * min(deltas)
