"""Writing cassettes: locked, scrubbed, atomic, incremental, and safe with many writers.

- A full write goes to a unique temp file in the same directory, is flushed and fsynced,
  then ``os.replace``d over the cassette: a crash or a full disk leaves the old file.
- A new recording is *appended* as one block (the file always ends with the ``entries:``
  sequence), so recording n entries costs O(n), not O(n^2). A failed append is truncated
  away. The file is fsynced when the store closes.
- Every write holds ``<cassette>.lock`` (filelock), first reads what other processes
  appended since (only the new bytes), merges, then writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from replaycodegen.cassette.foreign import refuse_foreign
from replaycodegen.cassette.loader import parse_cassette, read_text
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.serialize import ENTRY_INDENT, dump_cassette, dump_entry
from replaycodegen.errors import CassetteError

LOCK_TIMEOUT_SECONDS = 120.0
_ENTRIES_LINE = re.compile(r"(?m)^entries:[ \t]*(?:#[^\n]*)?\n")
_TOP_LEVEL_AFTER = re.compile(r"(?m)^[^\s#\-]")
_FIRST_ITEM = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*([ ]*)- ")


def append_indent(text: str) -> str | None:
    """The indentation to append entries with, or ``None`` if the file cannot be appended to
    (no block ``entries:`` sequence at the end, e.g. ``entries: []`` or a key after it)."""
    match = None
    for match in _ENTRIES_LINE.finditer(text):  # noqa: B007 - we want the last one
        pass
    if match is None:
        return None
    rest = text[match.end() :]
    if _TOP_LEVEL_AFTER.search(rest):
        return None
    first = _FIRST_ITEM.match(rest)
    return first.group(1) if first else None


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file + fsync + ``os.replace``)."""
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:  # a new file gets the usual 0o666 & ~umask, not mkstemp's 0o600
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CassetteError(
                f"could not write the cassette: {exc.strerror or exc}; the previous file is intact",
                path=str(path),
            ) from exc
        raise
    _fsync_dir(path.parent)


def write_fully(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is handed to the OS (one call in practice)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(path: Path) -> None:
    """Refuse a directory, a read-only file or an unwritable folder, before anything is written."""
    if path.is_dir():
        raise CassetteError(
            "is a directory, not a cassette file",
            path=str(path),
            hint="give a file path such as cassettes/my_test.yaml",
        )
    if path.exists():
        mode = path.stat().st_mode
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
            raise CassetteError(
                "the cassette file is read-only; nothing was written",
                path=str(path),
                hint=f"chmod u+w {path}",
            )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CassetteError(
            f"cannot create the cassette folder: {exc.strerror}", path=str(parent)
        ) from exc
    if not os.access(parent, os.W_OK):
        raise CassetteError("the cassette folder is not writable", path=str(parent))


class CassetteStore:
    """Owns one cassette file for writing; every method that writes takes the lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scrubber: Scrubber | None = None,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.scrubber = scrubber if scrubber is not None else Scrubber()
        self._lock = FileLock(f"{self.path}.lock", timeout=lock_timeout)
        self._signature: tuple[int, int, int] | None = None
        self._size = 0
        self._indent: str | None = None
        self._dirty = False

    # -- locking and syncing --------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except Timeout:
            raise CassetteError(
                f"timed out after {self._lock.timeout:.0f}s waiting for {self._lock.lock_file}",
                path=str(self.path),
                hint="another process is writing this cassette; if none is, "
                "delete the stale .lock file",
            ) from None

    def _remember(self, text: str) -> None:
        st = self.path.stat()
        self._signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._size = len(text.encode("utf-8"))
        self._indent = append_indent(text)

    def load(self, *, match_on: tuple[str, ...] | None = None) -> Cassette | None:
        """Read the file (``None`` if it does not exist) and remember its state for merging."""
        check_writable(self.path)
        with self.locked():
            if not self.path.exists():
                return None
            text = read_text(self.path)
            cassette = parse_cassette(text, str(self.path), match_on=match_on)
            if cassette.torn_tail:
                self._indent = None  # the next write rewrites the file without the torn entry
                st = self.path.stat()
                self._signature = (st.st_ino, st.st_size, st.st_mtime_ns)
                self._size = st.st_size
            else:
                self._remember(text)
            return cassette

    def _sync(self, cassette: Cassette) -> None:
        """Adopt what other writers added since we last looked (call with the lock held)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._signature, self._indent = None, None
            return
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature == self._signature:
            return
        if (
            self._signature is not None
            and self._indent is not None
            and st.st_ino == self._signature[0]
            and st.st_size > self._size
        ):
            with open(self.path, "rb") as handle:
                handle.seek(self._size)
                tail = handle.read()
            try:
                fragment = parse_cassette(
                    "version: 1\nentries:\n" + tail.decode("utf-8"),
                    str(self.path),
                    match_on=cassette.match_on,
                    tolerate_torn_tail=False,
                )
            except (CassetteError, UnicodeDecodeError):
                fragment = None
            if fragment is not None and not any(map(cassette.has_id, fragment.entry_ids())):
                for entry in fragment.entries:
                    cassette.add(entry)
                self._signature, self._size = signature, st.st_size
                return
        text = read_text(self.path)
        disk = parse_cassette(text, str(self.path), match_on=cassette.match_on)
        cassette.replace_entries(disk.entries)
        if disk.torn_tail:
            self._signature, self._size, self._indent = signature, st.st_size, None
        else:
            self._remember(text)

    # -- writing ----------------------------------------------------------------------------
    def scrub_entry(self, entry: Entry) -> Entry:
        """Scrub secrets from everything the entry stores; pin the key if keyed fields change."""
        s = self.scrubber
        scrubbed: list[str] = []
        if entry.request is not None:
            clean = s.data(entry.request)
            scrubbed += [name for name in entry.request if clean.get(name) != entry.request[name]]
            chain = [
                type(e)(s.text(e.type), s.text(e.stage), s.text(e.message))
                for e in entry.error_chain
            ]
            if chain != entry.error_chain:
                scrubbed.append("error_chain")
            if scrubbed:
                entry.stored_key = entry.key
                entry.scrubbed = scrubbed
            entry.request, entry.error_chain = clean, chain
        if entry.when is not None and entry.when.request is not None:
            entry.when = dataclasses.replace(entry.when, request=s.data(entry.when.request))
        if entry.description is not None:
            entry.description = s.text(entry.description)
        entry.code = s.text(entry.code)
        if entry.response is not None:
            entry.response = s.text(entry.response)
        entry.meta = s.data(entry.meta)
        return entry

    def add(self, cassette: Cassette, entry: Entry) -> Entry:
        """Merge in other writers' entries, then scrub, index and append ``entry``."""
        with self.locked():
            self._sync(cassette)
            if not entry.id or cassette.has_id(entry.id):
                entry.id = cassette.next_id()
            cassette.add(entry)
            self.scrub_entry(entry)
            if self._indent is not None and self.path.exists():
                self._append(dump_entry(entry, self._indent))
            else:
                self._write_all(cassette)
        return entry

    def replace_group(self, cassette: Cassette, group_id: str, entry: Entry) -> list[Entry]:
        """Drop every entry of one key and add ``entry`` (record mode ``all``); a full write.

        Returns the entries it dropped, so that a caller can put them back (``remove``).
        """
        with self.locked():
            self._sync(cassette)
            replaced = cassette.remove_group(group_id)
            if not entry.id or cassette.has_id(entry.id):
                entry.id = cassette.next_id()
            cassette.add(entry)
            self.scrub_entry(entry)
            self._write_all(cassette)
        return replaced

    def remove(self, ids: set[str], *, reinstate: Sequence[Entry] = ()) -> set[str]:
        """Remove entries by id from the file (locked, atomic); returns the ids removed.

        ``reinstate``: entries to put back at the end (those a re-recording replaced), unless
        an entry with the same id is in the file again.
        """
        with self.locked():
            if not self.path.exists():
                return set()
            cassette = parse_cassette(read_text(self.path), str(self.path))
            present = cassette.entry_ids() & ids
            kept = [e for e in cassette.entries if e.id not in present]
            back = [e for e in reinstate if e.id in present or not cassette.has_id(e.id)]
            if present or back:
                cassette.replace_entries([*kept, *back])
                self._write_all(cassette)
        return present

    def write(self, cassette: Cassette) -> None:
        """Write the whole cassette atomically (scrubbed), replacing the file."""
        check_writable(self.path)
        with self.locked():
            refuse_foreign(self.path)
            if cassette.description is not None:
                cassette.description = self.scrubber.text(cassette.description)
            for entry in cassette.entries:
                self.scrub_entry(entry)
            self._write_all(cassette)

    def _write_all(self, cassette: Cassette) -> None:
        text = dump_cassette(cassette)
        atomic_write(self.path, text)
        self._remember(text)
        self._indent = self._indent or (ENTRY_INDENT if cassette.entries else None)

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            before = os.fstat(fd).st_size
            if before and self._needs_newline(before):
                data = b"\n" + data
            try:
                write_fully(fd, data)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)
                raise CassetteError(
                    f"could not append to the cassette: {exc.strerror or exc}; "
                    "the previous content is intact",
                    path=str(self.path),
                ) from exc
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self._signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._size = st.st_size
        self._dirty = True

    def _needs_newline(self, size: int) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(size - 1)
            return handle.read(1) != b"\n"

    def close(self) -> None:
        """fsync what was appended (atomic writes are fsynced already)."""
        if self._dirty and self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._dirty = False
