"""Reading cassettes: ``load_cassette`` and ``read_text``. Loading never modifies the file.

``load_cassette`` reads the bytes (a regular file only, see ``files``), serves them from
the parsed-cassette cache when it has seen them (see ``cache``), else parses them
(``parse``: bounded, linear, strict, with file:line errors; keys recomputed). A cache hit
imports no YAML at all. ``parse_cassette`` and ``parse_raw`` are ``parse``'s, importable
from here too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from replaycodegen._lazy import lazy_exports
from replaycodegen.cassette.loading import files
from replaycodegen.cassette.loading.outcome import CassetteWarning, Parsed, emit_warnings
from replaycodegen.cassette.loading.validate import (
    ENTRY_FIELDS,
    TOP_LEVEL_FIELDS,
    NotACassetteError,
)
from replaycodegen.cassette.model import Cassette

if TYPE_CHECKING:
    from replaycodegen.cassette.loading.cache import CacheChoice, ParsedCassetteCache
    from replaycodegen.cassette.loading.parse import parse_cassette, parse_raw

__all__ = [
    "ENTRY_FIELDS",
    "TOP_LEVEL_FIELDS",
    "CassetteWarning",
    "NotACassetteError",
    "Parsed",
    "emit_warnings",
    "load_cassette",
    "parse_cassette",
    "parse_raw",
    "read_text",
]


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text: a regular file only (never a FIFO, a device or a directory), UTF-8;
    anything else is a ``CassetteError`` naming the path."""
    return files.decode_utf8(files.read_regular_file(path), os.fspath(path))


def load_cassette(
    path: str | os.PathLike[str],
    *,
    match_on: Sequence[str] | None = None,
    cache: CacheChoice = None,
) -> Cassette:
    """Load and validate a cassette file (read only: the file is never modified).

    ``cache``: ``None`` uses the default parsed-cassette cache (the user cache directory,
    or pytest's under the plugin; ``REPLAYCODEGEN_CACHE_DIR=off`` turns it off), ``False``
    turns it off, a folder or a ``ParsedCassetteCache`` uses that one. A cache hit serves
    what a fresh parse would, warnings included; an edited file is never served from it.
    """
    from replaycodegen.cassette.loading.cache import choose

    return _load(os.fspath(path), match_on, choose(cache), None)


def load_stat_taken(path: str, match_on: Sequence[str] | None,
                    current: os.stat_result) -> Cassette:
    """``load_cassette`` with the default cache, for a caller that has just taken the
    file's ``os.stat`` (the pytest plugin): a cache hit does not take it again."""
    from replaycodegen.cassette.loading.cache import default_cache

    return _load(path, match_on, default_cache(), current)


def _load(name: str, match_on: Sequence[str] | None, store: ParsedCassetteCache | None,
          current: os.stat_result | None) -> Cassette:
    if store is None:
        from replaycodegen.cassette.loading.parse import parse_bytes

        parsed = parse_bytes(files.read_regular_file(name), name, match_on, True)
        emit_warnings(name, parsed.notes)
        return parsed.cassette
    found = store.lookup(name, match_on, current)
    if found.parsed is not None:
        emit_warnings(name, found.parsed.notes)
        return found.parsed.cassette  # a hit: no YAML imported
    from replaycodegen.cassette.loading.parse import parse_bytes

    raw, st = (found.raw, found.stat) if found.raw is not None else files.read_with_stat(name)
    source = found.source or hashlib.sha256(raw).hexdigest()
    del found
    parsed = parse_bytes(raw, name, match_on, True)
    del raw
    store.save(name, match_on, parsed, source, st)
    emit_warnings(name, parsed.notes)
    return parsed.cassette


__getattr__, __dir__ = lazy_exports(__name__, {
    "parse_cassette": "replaycodegen.cassette.loading.parse",
    "parse_raw": "replaycodegen.cassette.loading.parse",
})
