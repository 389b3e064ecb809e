"""Cassette files loaded in this session: each one read and parsed once while it is unchanged.

A test gets a :meth:`~replaycodegen.cassette.model.Cassette.playback_copy` (the parsed
entries shared, its own playback state). A file that changed since it was parsed (its
inode, size or modification time differ, e.g. a recording test wrote to it) is parsed
again. Nothing is imported until the first cassette is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Cassette

_Signature = tuple[int, int, int]


class SessionCassettes:
    def __init__(self) -> None:
        self._parsed: dict[tuple[str, tuple[str, ...] | None], tuple[_Signature, Cassette]] = {}
        self.parses = 0
        """How many files were read and parsed (for tests and benchmarks)."""
        self._noted: set[str] = set()

    def load(self, path: Path, match_on: Sequence[str] | None = None) -> Cassette | None:
        """The cassette at ``path`` for one test, ``None`` if there is no such file.

        Raises ``CassetteError`` for a file that cannot be used (as ``load_cassette``).
        """
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        key = (str(path), tuple(match_on) if match_on is not None else None)
        known = self._parsed.get(key)
        if known is None or known[0] != signature:
            from replaycodegen.cassette.loader import load_cassette

            self.parses += 1
            known = self._parsed[key] = (signature, load_cassette(path, match_on=match_on))
        return known[1].playback_copy()

    def parsed(self, path: str) -> Cassette | None:
        """The last parse of ``path`` in this session (any ``match_on``), if any."""
        for (known, _), (_, cassette) in reversed(self._parsed.items()):
            if known == path:
                return cassette
        return None

    def first_note(self, path: Path) -> bool:
        """True the first time a note about ``path`` is given in this session."""
        key = str(path)
        if key in self._noted:
            return False
        self._noted.add(key)
        return True
