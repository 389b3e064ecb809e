"""Writing cassettes: locked, scrubbed, atomic, incremental, and safe with many writers.

- Every write holds the cassette's lock (:mod:`~replaycodegen.cassette.writing.locking`: one lock
  per real path, kept in the user cache, not next to the cassette).
- A new recording is *appended* as one block (the file always ends with the ``entries:``
  sequence), so recording n entries costs O(n), not O(n^2). A failed append is truncated
  away. The file is fsynced when the store closes.
- Every other change is one read-modify-write under the lock, :meth:`CassetteStore.update`
  (or :func:`rewrite_entries`): the file is read and parsed with the lock held, changed,
  and replaced before the lock is released, so nothing another writer appended is lost;
  only the entries changed are written again, the rest of the text is kept to the byte.
- A full write goes to a temp file named ``.<cassette>.replaycodegen-<pid>-<random>.tmp``
  in the cassette's folder, is flushed and fsynced, then ``os.replace``d over the
  cassette: a crash or a full disk leaves the old file. Temp files a killed writer left
  behind are removed under the lock by the next write.
- A symlinked cassette is resolved once, when the store is made: its target is read,
  locked and replaced; the link stays a link.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.loading.foreign import refuse_foreign
from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette, read_text
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.writing.locking import LOCK_TIMEOUT_SECONDS, CassetteLock
from replaycodegen.cassette.writing.rewrite import CassetteEdit, scrub_entry
from replaycodegen.cassette.writing.serialize import dump_cassette, dump_entry
from replaycodegen.errors import CassetteError

_ENTRIES_LINE = re.compile(r"(?m)^entries:[ \t]*(?:#[^\n]*)?\n")
_TOP_LEVEL_AFTER = re.compile(r"(?m)^[^\s#\-]")
_FIRST_ITEM = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*([ ]*)- ")
TEMP_MARK = ".replaycodegen-"


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


def resolve_cassette_path(path: Path) -> Path:
    """The real path behind ``path`` (symlinks followed; a missing file's would-be path).
    A symlink loop is a ``CassetteError``."""
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError) as exc:
        raise CassetteError(
            f"cannot resolve the cassette path: {getattr(exc, 'strerror', None) or exc}",
            path=str(path),
            hint="a symlink loop? point the link at a real file",
        ) from None


def _temp_pattern(path: Path) -> re.Pattern[str]:
    """Temp files of this cassette: ours, and those of replaycodegen 0.1 (``mkstemp``)."""
    name = re.escape(path.name)
    return re.compile(rf"\.{name}\.(?:replaycodegen-\d+-[0-9a-f]+|[a-z0-9_]{{8}})\.tmp")


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove the temp files that killed writers of ``path`` left (call with the lock held:
    then no live writer has one)."""
    pattern = _temp_pattern(path)
    removed = []
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(f".{path.name}.")]
    except OSError:
        return []
    for name in names:
        if pattern.fullmatch(name):
            candidate = path.parent / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(candidate).st_mode):
                    candidate.unlink()
                    removed.append(candidate)
    return removed


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file + fsync + ``os.replace``)."""
    data = text.encode("utf-8")
    tmp = path.parent / f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:  # a new file gets the usual 0o666 & ~umask
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
        if not stat.S_ISREG(mode):
            raise CassetteError("is not a regular file; nothing was written", path=str(path))
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
    """Owns one cassette file for writing; every method that writes takes the lock.

    ``path`` is what messages show; ``target`` is the file written (``path`` with
    symlinks resolved, once, here).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scrubber: Scrubber | None = None,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.target = resolve_cassette_path(self.path)
        self.scrubber = scrubber if scrubber is not None else Scrubber()
        self._lock = CassetteLock(self.target, timeout=lock_timeout, display=self.path)
        self._signature: tuple[int, int, int] | None = None
        self._size = 0
        self._indent: str | None = None
        self._dirty = False
        self._swept = False

    # -- locking and syncing --------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cassette's lock (reentrant); the first time, sweep stale temp files."""
        with self._lock.held():
            if not self._swept:
                remove_stale_temp_files(self.target)
                self._swept = True
            yield

    @property
    def lock_file(self) -> Path:
        return self._lock.lock_file

    def _remember(self, text: str) -> None:
        st = self.target.stat()
        self._signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._size = len(text.encode("utf-8"))
        self._indent = append_indent(text)

    def _parse(self, text: str, match_on: Sequence[str] | None) -> Cassette:
        return parse_cassette(text, str(self.path), match_on=match_on)

    def load(self, *, match_on: Sequence[str] | None = None) -> Cassette | None:
        """Read the file (``None`` if it does not exist) and remember its state for merging."""
        check_writable(self.target)
        with self.locked():
            if not self.target.exists():
                return None
            text = read_text(self.target)
            cassette = self._parse(text, match_on)
            if cassette.torn_tail:
                self._indent = None  # the next write rewrites the file without the torn entry
                st = self.target.stat()
                self._signature = (st.st_ino, st.st_size, st.st_mtime_ns)
                self._size = st.st_size
            else:
                self._remember(text)
            return cassette

    def _sync(self, cassette: Cassette) -> None:
        """Adopt what other writers added since we last looked (call with the lock held)."""
        try:
            st = self.target.stat()
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
            with open(self.target, "rb") as handle:
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
        text = read_text(self.target)
        disk = self._parse(text, cassette.match_on)
        cassette.replace_entries(disk.entries)
        if disk.torn_tail:
            self._signature, self._size, self._indent = signature, st.st_size, None
        else:
            self._remember(text)

    # -- read-modify-write ------------------------------------------------------------------
    @contextlib.contextmanager
    def update(
        self, *, match_on: Sequence[str] | None = None, create: bool = False
    ) -> Iterator[CassetteEdit]:
        """The one read-modify-write of a cassette: ``with store.update() as edit: ...``.

        Takes the lock, reads and parses the file as it is now, hands out a
        :class:`CassetteEdit` to change, and, when the block ends without an exception,
        writes the result (only the changed entries re-serialised, everything else kept
        to the byte) before the lock is released. ``create``: a missing file starts empty
        (otherwise it is a ``CassetteError``). A file that does not load is never written.
        """
        check_writable(self.target)
        with self.locked():
            edit = self._read_for_update(match_on, create=create)
            yield edit
            self._finish(edit)

    def _read_for_update(self, match_on: Sequence[str] | None, *, create: bool) -> CassetteEdit:
        if not self.target.exists():
            if not create:
                read_text(self.target)  # the precise "no such cassette file" error
            cassette = Cassette(path=str(self.path), match_on=match_on or DEFAULT_MATCH_ON)
            return CassetteEdit(cassette, None)
        text = read_text(self.target)
        with warnings.catch_warnings():
            # stale keys and a torn tail are what a rewrite may be about; lint reports them
            warnings.simplefilter("ignore", CassetteWarning)
            cassette = self._parse(text, match_on)
        return CassetteEdit(cassette, text)

    def _finish(self, edit: CassetteEdit) -> None:
        text = edit.render(self.scrubber, display_path=str(self.path))
        if text is not None:
            self._replace_file(text)

    def _replace_file(self, text: str) -> None:
        remove_stale_temp_files(self.target)
        atomic_write(self.target, text)
        self._remember(text)

    def reset(
        self, *, match_on: Sequence[str] | None = None, description: str | None = None
    ) -> list[Entry]:
        """Remove every entry (record mode ``rewrite``), keeping the header and comments;
        returns what was removed. A file that does not load is refused, never replaced."""
        check_writable(self.target)
        with self.locked():
            refuse_foreign(self.target)  # not ours: no "repair it or delete it"
            try:
                edit = self._read_for_update(None, create=True)
            except CassetteError as exc:
                raise CassetteError(
                    f"record mode 'rewrite' will not replace a cassette it cannot load: "
                    f"{exc.reason}",
                    path=exc.path, line=exc.line, field=exc.field,
                    hint=f"repair it (`replaycodegen lint {self.path}` names the problem) or "
                    "delete the file to record it afresh",
                ) from None
            removed = edit.clear()
            if match_on is not None:
                edit.cassette.match_on = tuple(match_on)
            if description is not None:
                edit.cassette.description = description
            self._finish(edit)
            return removed

    # -- writing ----------------------------------------------------------------------------
    def scrub_entry(self, entry: Entry) -> Entry:
        """Scrub secrets from everything the entry stores (see ``rewrite.scrub_entry``)."""
        scrub_entry(entry, self.scrubber)
        return entry

    def add(self, cassette: Cassette, entry: Entry) -> Entry:
        """Merge in other writers' entries, then scrub, index and append ``entry``."""
        check_writable(self.target)
        with self.locked():
            self._sync(cassette)
            if not entry.id or cassette.has_id(entry.id):
                entry.id = cassette.next_id()
            self.scrub_entry(entry)
            if self._indent is not None and self.target.exists():
                cassette.add(entry)
                self._append(dump_entry(entry, self._indent))
                return entry
            self._rewrite(cassette, append=[entry])
        return entry

    def _rewrite(self, cassette: Cassette, *, remove: Iterable[str] = (),
                 append: Sequence[Entry] = (),
                 remove_keys: Iterable[str] = ()) -> list[Entry]:
        """One locked read-modify-write for the recorder; ``cassette`` adopts the result."""
        create = not self.target.exists()
        edit = self._read_for_update(cassette.match_on if create else None, create=create)
        if create:
            edit.cassette.description = cassette.description
            edit.cassette.repeat_last = cassette.repeat_last
        keys = set(remove_keys)
        gone = [e.id for e in edit.cassette.entries if e.id in set(remove) or e.key in keys]
        if gone and len(append) == 1:
            edit.insert_before(gone[0], append)  # a re-recording takes the old one's place
            append = ()
        removed = edit.remove(gone)
        for entry in append:
            edit.append(entry)
        self._finish(edit)
        cassette.replace_entries(edit.cassette.entries, derive=False)
        return removed

    def replace_group(self, cassette: Cassette, group_id: str, entry: Entry,
                      *, also: Iterable[str] = ()) -> list[Entry]:
        """Drop every entry of one key (and of the keys in ``also``) and add ``entry``
        (record mode ``all``), in one locked read-modify-write.

        Returns the entries it dropped, so that a caller can put them back (``remove``).
        """
        check_writable(self.target)
        with self.locked():
            if not entry.id or cassette.has_id(entry.id):
                entry.id = ""
            self.scrub_entry(entry)
            own_key = entry.derive_key(cassette.match_on) if entry.request is not None else None
            keys = {group_id, *also} | ({own_key} if own_key else set())
            return self._rewrite(cassette, remove_keys=keys, append=[entry])

    def remove(self, ids: set[str], *, reinstate: Sequence[Entry] = ()) -> set[str]:
        """Remove entries by id from the file (locked, atomic); returns the ids removed.

        ``reinstate``: entries to put back at the end (those a re-recording replaced), unless
        an entry with the same id is in the file again.
        """
        if not self.target.exists():
            return set()
        with self.update() as edit:
            present = edit.cassette.entry_ids() & ids
            back = [e for e in reinstate if e.id in present or not edit.cassette.has_id(e.id)]
            edit.remove(present)
            for entry in back:
                edit.append(entry)
        return present

    def write(self, cassette: Cassette) -> None:
        """Replace the file with this cassette, written whole (scrubbed): a new cassette,
        or ``new --force``. To change an existing one, use :meth:`update`."""
        check_writable(self.target)
        with self.locked():
            refuse_foreign(self.target)
            if cassette.description is not None:
                cassette.description = self.scrubber.text(cassette.description)
            scrubbed = [e for e in cassette.entries if scrub_entry(e, self.scrubber)]
            if scrubbed:  # keyed on the scrubbed text from now on
                for entry in scrubbed:
                    entry.key = None
                cassette.replace_entries(cassette.entries, derive=False)
            self._replace_file(dump_cassette(cassette))

    def write_text(self, text: str) -> None:
        """Replace the file with ``text``, a whole cassette already rendered and scrubbed
        by this package (``craft -o``); it must load, or nothing is written."""
        parse_cassette(text, str(self.path))
        check_writable(self.target)
        with self.locked():
            refuse_foreign(self.target)
            self._replace_file(text)

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND)
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
        with open(self.target, "rb") as handle:
            handle.seek(size - 1)
            return handle.read(1) != b"\n"

    def close(self) -> None:
        """fsync what was appended (atomic writes are fsynced already)."""
        if self._dirty and self.target.exists():
            fd = os.open(self.target, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._dirty = False


def rewrite_entries(
    path: str | os.PathLike[str],
    *,
    replace: Mapping[str, Entry] | Iterable[Entry] = (),
    remove: Iterable[str] = (),
    append: Iterable[Entry] = (),
    scrubber: Scrubber | None = None,
) -> CassetteEdit:
    """Change some entries of an existing cassette, in one locked read-modify-write, and
    leave every other byte of the file as it is (comments included).

    ``replace``: entries (or ``{id: entry}``) put where the entry with that id is;
    ``remove``: ids to drop (missing ones are ignored); ``append``: new entries at the end
    (a free id when theirs is empty or taken). Every entry written is scrubbed and keyed
    on its scrubbed request. Returns the edit (``edit.written`` is the new text, ``None``
    when nothing changed).
    """
    replacements = list(replace.values()) if isinstance(replace, Mapping) else list(replace)
    if isinstance(replace, Mapping):
        for entry_id, entry in replace.items():
            entry.id = entry_id
    store = CassetteStore(path, scrubber=scrubber)
    with store.update() as edit:
        for entry in replacements:
            edit.replace(entry)
        edit.remove(remove)
        for entry in append:
            edit.append(entry)
    return edit
