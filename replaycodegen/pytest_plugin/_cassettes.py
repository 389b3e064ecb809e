"""Cassette files loaded in this session: each one read and parsed once while it is unchanged.

A test gets a :meth:`~replaycodegen.cassette.model.Cassette.playback_copy` (the parsed
entries shared, its own playback state). A file that changed since it was parsed (its
inode, size or modification time differ, e.g. a recording test wrote to it) is parsed
again. A parse is kept only while collected tests that will use it have not run yet
(:meth:`SessionCassettes.expect`), so that a suite of 1,000 cassettes does not keep 1,000
parses alive (and the garbage collector scanning them).
Nothing is imported until the first cassette is loaded.
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
        self._users_left: dict[str, int] = {}
        self._noted: set[str] = set()
        self.parses = 0
        """How many files were read and parsed (for tests and benchmarks)."""

    def expect(self, path: str) -> None:
        """One more collected test will load ``path`` (keep its parse until it has)."""
        self._users_left[path] = self._users_left.get(path, 0) + 1

    def load(self, path: Path, match_on: Sequence[str] | None = None) -> Cassette | None:
        """The cassette at ``path`` for one test, ``None`` if there is no such file.

        Raises ``CassetteError`` for a file that cannot be used (as ``load_cassette``).
        """
        name = str(path)
        left = self._users_left[name] = self._users_left.get(name, 0) - 1
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        key = (name, tuple(match_on) if match_on is not None else None)
        known = self._parsed.get(key)
        if known is None or known[0] != signature:
            from replaycodegen.cassette.loading.loader import load_stat_taken

            self.parses += 1
            known = (signature, load_stat_taken(name, match_on, st))
        if left > 0:
            self._parsed[key] = known
            return known[1].playback_copy()
        # the last test to use this parse: it takes the parse itself (nobody else holds it;
        # earlier users got copies with playback state of their own)
        self._parsed.pop(key, None)
        return known[1]

    def first_note(self, path: Path) -> bool:
        """True the first time a note about ``path`` is given in this session."""
        key = str(path)
        if key in self._noted:
            return False
        self._noted.add(key)
        return True
