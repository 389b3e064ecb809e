"""Reading a cassette's bytes: a regular file only, never blocking, never unbounded.

A FIFO, a device (``/dev/zero``), a directory, a symlink loop or a dangling symlink is a
``CassetteError`` at once: the path is checked with ``stat`` before it is opened (a FIFO is
never opened, so a process waiting to write into it is not woken), opened with
``O_NONBLOCK`` and checked again with ``fstat`` (the path may have been swapped in between),
and at most :func:`max_bytes` bytes are read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from replaycodegen.errors import CassetteError

DEFAULT_MAX_BYTES = 1 << 30
"""1 GiB: about 400,000 recorded entries. ``REPLAYCODEGEN_MAX_CASSETTE_MB`` changes it."""

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def max_bytes() -> int:
    """The largest cassette read: ``REPLAYCODEGEN_MAX_CASSETTE_MB`` MiB, else 1 GiB."""
    raw = os.environ.get("REPLAYCODEGEN_MAX_CASSETTE_MB", "").strip()
    try:
        return int(float(raw) * (1 << 20)) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def _kind(mode: int) -> str:
    for check, name in _KINDS:
        if check(mode):
            return name
    return "not a regular file"


def _not_regular(path: str, mode: int) -> CassetteError:
    kind = _kind(mode)
    if kind == "a directory":
        return CassetteError(
            "is a directory, not a cassette file", path=path, hint="give the path of a .yaml file"
        )
    return CassetteError(
        f"is {kind}, not a regular file; cassettes are read from regular files only",
        path=path,
        hint="give the path of a .yaml file",
    )


def _open_error(path: str, exc: OSError) -> CassetteError:
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            target = os.readlink(path)
            return CassetteError(
                f"is a dangling symlink (its target {target!r} does not exist)",
                path=path,
                hint="fix or remove the link",
            )
        return CassetteError(
            "no such cassette file",
            path=path,
            hint="record it (record mode once) or check the path",
        )
    if exc.errno == errno.ELOOP:
        return CassetteError(
            "is a symlink loop (the links point at each other)",
            path=path,
            hint="fix or remove the link",
        )
    if exc.errno == errno.EISDIR:
        return CassetteError(
            "is a directory, not a cassette file", path=path, hint="give the path of a .yaml file"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return CassetteError("cannot read: permission denied", path=path,
                             hint="check the file's permissions")
    return CassetteError(f"cannot read: {exc.strerror or exc}", path=path)


def _too_large(path: str, size: int, limit: int) -> CassetteError:
    return CassetteError(
        f"is larger than {limit / (1 << 20):,.0f} MiB ({size / (1 << 20):,.0f} MiB or more)",
        path=path,
        hint="split the cassette, or raise REPLAYCODEGEN_MAX_CASSETTE_MB",
    )


def read_regular_file(path: str | os.PathLike[str], *, limit: int | None = None) -> bytes:
    """The bytes of a regular file; anything else (or a file past ``limit``) is a
    ``CassetteError`` naming the path, raised at once."""
    return read_with_stat(path, limit=limit)[0]


def signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What identifies a file's state: device, inode, size, mtime and ctime (ns)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_with_stat(
    path: str | os.PathLike[str], *, limit: int | None = None
) -> tuple[bytes, os.stat_result | None]:
    """:func:`read_regular_file`, plus the file's ``fstat`` when it did not change while it
    was read (``None`` when it did: a writer was appending)."""
    name = os.fspath(path)
    limit = max_bytes() if limit is None else limit
    try:
        before = os.stat(name)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError):  # an embedded NUL byte
            raise CassetteError("is not a valid path", path=name) from None
        raise _open_error(name, exc) from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(name, before.st_mode)
    if before.st_size > limit:
        raise _too_large(name, before.st_size, limit)
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except OSError as exc:
        raise _open_error(name, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else since the stat
            raise _not_regular(name, st.st_mode)
        parts: list[bytes] = []
        total = 0
        want = st.st_size + 1  # one read for the whole file, plus one to see the end
        while True:
            part = os.read(fd, max(min(want, limit + 1 - total), 1))
            if not part:
                break
            parts.append(part)
            total += len(part)
            if total > limit:
                raise _too_large(name, total, limit)
            want = 1 << 20
        after = os.fstat(fd)
    except OSError as exc:
        raise CassetteError(f"cannot read: {exc.strerror or exc}", path=name) from None
    finally:
        os.close(fd)
    raw = parts[0] if len(parts) == 1 else b"".join(parts)  # one read: no copy
    steady = signature(st) == signature(after) and after.st_size == len(raw)
    return raw, after if steady else None


def decode_utf8(raw: bytes, path: str) -> str:
    """The text of a cassette's bytes; bytes that are not UTF-8 are a ``CassetteError``
    naming the line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(raw, exc, path, first_line=1) from None


def not_utf8(raw: bytes, exc: UnicodeDecodeError, path: str, *, first_line: int) -> CassetteError:
    line = first_line + raw.count(b"\n", 0, exc.start)
    return CassetteError("not UTF-8 text", path=path, line=line, hint="save the cassette as UTF-8")


CASSETTE_SUFFIXES = (".yaml", ".yml")


_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox"})


def find_cassettes(directory: str | os.PathLike[str]) -> list[Path]:
    """``*.yaml`` / ``*.yml`` files under ``directory`` (recursively, sorted), skipping
    hidden folders and virtual environments."""
    root = Path(directory)
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        found.extend(
            Path(current) / name for name in sorted(files) if name.endswith(CASSETTE_SUFFIXES)
        )
    return found
