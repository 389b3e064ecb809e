"""Orphaned cassettes: files below the cassette folders that no collected test owns.

A test renamed or deleted leaves its cassette behind. A file counts as a cassette by its
content (a YAML mapping with ``version`` and ``entries``), not by its name, so both
``<test>.codegen.yaml`` and older ``<test>.yaml`` files are found, and other YAML files in
those folders are left alone. When a test misses because its cassette does not exist and
an orphan holds an entry for exactly that request (the same key), the orphan is named as
the likely old name of that test's cassette.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from replaycodegen.cassette.loading import compose
from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette, read_text
from replaycodegen.cassette.miss import NO_SUCH_CASSETTE
from replaycodegen.errors import CassetteError
from replaycodegen.lifecycle.ci.reports import MissNote, OrphanRecord


def cassette_files(folders: Iterable[Path]) -> list[Path]:
    """YAML files below ``folders`` (recursively, sorted, hidden folders skipped)."""
    from replaycodegen.cassette.loading.files import find_cassettes

    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found.extend(find_cassettes(folder))
    return sorted(set(found))


def read_cassette_keys(path: Path) -> tuple[int, list[str]] | None:
    """``(entries, keys of recorded entries)`` if ``path`` is a replaycodegen cassette,
    ``None`` if it is some other file (a FIFO, a device or a directory is never opened for
    reading: it would hang the session's end). A damaged cassette counts, with no keys."""
    try:
        text = read_text(path)
        data = compose.load(text)
    except (CassetteError, yaml.YAMLError, RecursionError, ValueError):
        return None
    if not isinstance(data, dict) or "version" not in data or "entries" not in data:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CassetteWarning)
            cassette = parse_cassette(text, str(path))
    except CassetteError:
        entries = data.get("entries")
        return (len(entries) if isinstance(entries, list) else 0), []
    keys = [e.key for e in cassette.entries if e.key is not None and not e.is_pattern]
    return len(cassette.entries), keys


def find_orphans(files: Mapping[str, Path], owned: set[str],
                 misses: Iterable[tuple[str, MissNote]]) -> list[OrphanRecord]:
    """The orphans among ``files`` (report name -> file on disk) that ``owned`` does not
    list; ``misses`` are ``(test id, miss)`` pairs, for the likely renames."""
    wanted: dict[str, list[str]] = {}
    for test, miss in misses:
        if miss.reason == NO_SUCH_CASSETTE and miss.key:
            wanted.setdefault(miss.key, []).append(test)
    orphans = []
    for name in sorted(set(files) - owned):
        found = read_cassette_keys(files[name])
        if found is None:
            continue
        entries, keys = found
        renamed = sorted({test for key in keys for test in wanted.get(key, ())})
        orphans.append(OrphanRecord(name, entries, keys, renamed))
    return orphans


def delete_orphan(path: Path) -> bool:
    """Delete an orphaned cassette under its lock, if it still is a cassette file.

    The store writes cassettes; deleting a whole file has no store API yet, so this takes
    the store's lock (no writer is mid-append) and removes the file and the lock.
    """
    from replaycodegen.cassette.writing.store import CassetteStore

    store = CassetteStore(path)
    with store.locked():
        if not path.is_file() or read_cassette_keys(path) is None:
            return False
        path.unlink()
    Path(f"{path}.lock").unlink(missing_ok=True)
    return True
