"""Rewrites lose nothing (issue 11.3): 4 recording processes append to one cassette while
every rewrite kind (edit, lint --fix, scrub, craft, prune, rehash, the recorder's `all`;
its `rewrite` in a test of its own)
rewrites it in processes of their own; every acknowledged entry, and every rewrite's own
change, is in the file at the end. (On replaycodegen 0.1 this race lost about a quarter of
the acknowledged entries and the changes of most rewrites.)"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench_rewrite


@pytest.mark.slow
def test_recorders_and_every_kind_of_rewrite_at_once_lose_nothing(tmp_path: Path) -> None:
    result = bench_rewrite.race(tmp_path, recorders=4, rounds=2, cap=200, timeout=240)
    assert result.acknowledged > 0
    assert result.lost == []
    assert result.effects == dict.fromkeys(result.effects, True)
    assert set(result.effects) == {*bench_rewrite.KINDS, "comments"}


@pytest.mark.slow
def test_the_recorders_rewrite_mode_drops_only_what_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record mode ``rewrite`` starts the cassette afresh: it drops what the file held when
    it read it, under the lock, and nothing that other recorders append after that."""
    import asyncio
    import subprocess

    from replaycodegen import PythonExecutionRequest, load_cassette
    from replaycodegen.cassette.model import Entry
    from replaycodegen.cassette.writing import in_place
    from replaycodegen.cassette.writing.store import CassetteStore
    from replaycodegen.generation import RecordingCodeGenerator

    path, stop = tmp_path / "race.yaml", tmp_path / "stop"
    bench_rewrite.seed_cassette(path, rounds=1)  # with hand entries x1..x3, which stay
    removed: set[str] = set()
    reset = in_place.reset_keeping_kept

    def spy(store: CassetteStore, **kwargs: Any) -> list[Entry]:
        dropped = reset(store, **kwargs)
        removed.update(str(e.request["user_query"]) for e in dropped if e.request)
        return dropped

    monkeypatch.setattr(in_place, "reset_keeping_kept", spy)

    class Gen:
        async def generate_code(self, request: PythonExecutionRequest, chain: object) -> str:
            return "results = {'rewrite': 1}\n"

        def get_generation_metadata(self) -> dict[str, str]:
            return {"model": "race"}

    procs = [subprocess.Popen([sys.executable, "-c", bench_rewrite._RECORDER, str(path),
                               str(w), str(stop), "150"], stdout=subprocess.PIPE, text=True)
             for w in range(4)]
    acknowledged: list[str] = []
    try:
        for proc in procs:  # every recorder has appended before the first rewrite
            assert proc.stdout is not None
            acknowledged += proc.stdout.readline().split()
        for i in range(5):
            recorder = RecordingCodeGenerator(Gen(), path, "rewrite")
            asyncio.run(recorder.generate_code(PythonExecutionRequest(
                user_query=f"rewrite-{i}", task_objective="race",
                execution_folder_name="f"), []))
            recorder.close()
    finally:
        stop.touch()
        for proc in procs:
            out, _ = proc.communicate(timeout=240)
            acknowledged += out.split()
    cassette = load_cassette(path)
    present = {str(e.request.get("user_query")) for e in cassette.entries if e.request}
    assert removed, "the rewrites dropped nothing: the race did not happen"
    assert set(acknowledged) - present - removed == set()  # nothing vanished unaccounted
    assert "rewrite-4" in present and not {f"rewrite-{i}" for i in range(4)} & present
    assert {"x1", "x2", "x3"} <= {e.id for e in cassette.entries}  # hand entries kept
