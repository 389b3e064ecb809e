"""What ``replaycodegen ls`` shows about a cassette file."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replaycodegen.cassette.model import Cassette, Entry, parse_timestamp


@dataclass(frozen=True)
class CassetteSummary:
    """What ``replaycodegen ls`` shows about one file; ``error`` is set when it is invalid."""

    path: str
    size_bytes: int
    modified: _dt.datetime
    entries: int = 0
    recorded: int = 0
    hand_authored: int = 0
    models: tuple[str, ...] = ()
    newest_recording: _dt.datetime | None = None
    description: str | None = None
    error: str | None = None

    @property
    def as_of(self) -> _dt.datetime:
        """When the content dates from: the newest recording, else the file's mtime."""
        return self.newest_recording or self.modified

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "entries": self.entries,
            "recorded": self.recorded,
            "hand_authored": self.hand_authored,
            "models": list(self.models),
            "newest_recording": _iso(self.newest_recording),
            "modified": _iso(self.modified),
            "size_bytes": self.size_bytes,
            "description": self.description,
            "error": self.error,
        }


def _iso(moment: _dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def summarize(path: str | os.PathLike[str], cassette: Cassette | None, error: str | None = None
              ) -> CassetteSummary:
    """The summary of a loaded cassette (or of a file that failed to load, with ``error``)."""
    stat = Path(path).stat()
    modified = _dt.datetime.fromtimestamp(stat.st_mtime, _dt.UTC)
    if cassette is None:
        return CassetteSummary(str(path), stat.st_size, modified, error=error)
    models = sorted({str(e.meta["model"]) for e in cassette.entries if e.meta.get("model")})
    stamps = [parse_timestamp(e.meta.get("recorded_at")) for e in cassette.entries]
    known = [s for s in stamps if s is not None]
    recorded = sum(1 for e in cassette.entries if not e.is_pattern)
    return CassetteSummary(
        str(path),
        stat.st_size,
        modified,
        entries=len(cassette.entries),
        recorded=recorded,
        hand_authored=len(cassette.entries) - recorded,
        models=tuple(models),
        newest_recording=max(known) if known else None,
        description=cassette.description,
    )


def total_tokens(entries: Sequence[Entry]) -> int:
    """The sum of ``meta.usage.total_tokens`` over entries that recorded it."""
    total = 0
    for entry in entries:
        usage = entry.meta.get("usage")
        if isinstance(usage, Mapping) and isinstance(usage.get("total_tokens"), int):
            total += usage["total_tokens"]
    return total
