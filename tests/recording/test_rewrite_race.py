"""Rewrites lose nothing (issue 11.3): 4 recording processes append to one cassette while
every rewrite kind (edit, lint --fix, scrub, craft, prune, rehash, the recorder's `all`)
rewrites it in processes of their own; every acknowledged entry, and every rewrite's own
change, is in the file at the end. (On replaycodegen 0.1 this race lost about a quarter of
the acknowledged entries and the changes of most rewrites.)"""

from __future__ import annotations

import sys
from pathlib import Path

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
