"""Execution folders: a private root, one fresh folder per attempt, the service's own
files written and read safely inside a folder the code controlled, and pruning.

- The root is private: by default a fresh ``mkdtemp`` (mode 0700) per service; a
  configured root is created 0700 when missing and refused when it is a symlink, not a
  directory, not owned by this user, or writable by group or others.
- While code runs, its folder is its own: it may plant symlinks, directories or FIFOs
  under any name. So the service writes its files (``generated_code.py``,
  ``control_system.json``, ``outcome.json``, the notebook) through a descriptor of the
  folder opened before the run, into a new temp file (``O_EXCL | O_NOFOLLOW``) renamed
  over the name; it reads figures with ``O_NOFOLLOW``, regular files only, size-capped.
- ``prune`` keeps the newest ``keep`` finished folders of a root (and the ones the
  caller protects, e.g. this service's failed attempts).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from replaycodegen.errors import ExecutionStorageError
from replaycodegen.executor.config import ExecutorConfigError

__all__ = [
    "COMPLETION_MARKER",
    "FolderFiles",
    "create_execution_folder",
    "ensure_private_root",
    "new_private_root",
    "prune",
]

logger = logging.getLogger("replaycodegen.executor")

COMPLETION_MARKER = "outcome.json"  # written by the service when an execution is over
_FOLDER_NAME = re.compile(r"^\d{8}T\d{12}-[A-Za-z0-9_.-]+-[0-9a-f]{8}$")
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})
_ROOT_FIX = "set configurable.execution.execution_root to a private directory of yours"


def new_private_root() -> Path:
    """A fresh 0700 directory under the system temp dir, for one service's executions."""
    try:
        return Path(tempfile.mkdtemp(prefix="replaycodegen-"))
    except OSError as exc:
        raise _storage_error(Path(tempfile.gettempdir()), exc, "create the execution root") from exc


def ensure_private_root(root: Path) -> Path:
    """``root``, created 0700 when missing; refused when others could tamper with it."""
    try:
        if not os.path.lexists(root):
            root.parent.mkdir(parents=True, exist_ok=True)
            root.mkdir(mode=0o700)
    except FileExistsError:
        if not os.path.lexists(root):  # a parent is a file
            raise ExecutorConfigError(
                f"cannot create the execution root {root}: a parent is not a directory; "
                f"fix: {_ROOT_FIX}"
            ) from None
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:
            raise _storage_error(root, exc, "create the execution root") from exc
        raise ExecutorConfigError(
            f"cannot create the execution root {root}: {exc.strerror or exc}; "
            f"fix: {_ROOT_FIX}"
        ) from exc
    info = os.lstat(root)
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symlink"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    elif info.st_mode & 0o022:
        problem = f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
    if problem is not None:
        raise ExecutorConfigError(
            f"configurable.execution.execution_root={str(root)!r} {problem}: another user "
            f"could read the generated code or forge its results; fix: {_ROOT_FIX} "
            "(or leave it unset for a fresh private one)"
        )
    return root


def create_execution_folder(root: Path, name: str) -> Path:
    """A new, empty, uniquely named folder (mode 0700) under the private ``root``."""
    ensure_private_root(root)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "execution"
    folder = root / f"{stamp}-{slug}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(mode=0o700)
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:
            raise _storage_error(folder, exc, "create the execution folder") from exc
        raise ExecutorConfigError(
            f"cannot create an execution folder under {root}: {exc.strerror or exc}; "
            "fix: set configurable.execution.execution_root to a writable directory"
        ) from exc
    return folder


class FolderFiles:
    """The service's view of one execution folder, through a descriptor opened early
    (use it with ``contextlib.closing``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def write(self, name: str, data: bytes, *, required: bool = True) -> Path | None:
        """Put ``data`` at ``name`` atomically, never through a planted link.

        A full disk (or any storage failure) raises ``ExecutionStorageError``. A name the
        code took with a directory raises it too when ``required``, else it is logged and
        None returned.
        """
        temp = f".{name}.{uuid.uuid4().hex[:8]}.partial"
        try:
            fd = os.open(
                temp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=self._fd,
            )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=self._fd)
            if exc.errno in _STORAGE_ERRNOS or required:
                raise _storage_error(self.folder / name, exc, "write") from exc
            logger.warning("could not write %s: %s", self.folder / name, exc.strerror or exc)
            return None
        return self.folder / name

    def read_regular(self, name: str, max_bytes: int) -> bytes | None:
        """The content of a regular file ``name`` (no link followed, no FIFO opened
        blocking), or None when it is anything else or larger than ``max_bytes``."""
        try:
            fd = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self._fd
            )
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                return None
            chunks = bytearray()
            while len(chunks) <= max_bytes and (chunk := os.read(fd, 1 << 20)):
                chunks += chunk
            return bytes(chunks) if len(chunks) <= max_bytes else None
        except OSError:
            return None
        finally:
            os.close(fd)


def prune(root: Path, keep: int, protected: Iterable[Path] = ()) -> list[Path]:
    """Remove finished execution folders of ``root`` beyond the newest ``keep``; never
    one in ``protected``, one still running (no completion marker), or anything that is
    not a real directory named like an execution folder. Returns what was removed."""
    keep_set = {p.resolve() for p in protected}
    try:
        entries = sorted(
            (e for e in os.scandir(root) if _FOLDER_NAME.match(e.name)),
            key=lambda e: e.name,
            reverse=True,
        )
    except OSError:
        return []
    finished = [
        Path(e.path)
        for e in entries
        if e.is_dir(follow_symlinks=False)
        and os.path.lexists(os.path.join(e.path, COMPLETION_MARKER))
    ]
    removed = []
    for folder in finished[keep:]:
        if folder.resolve() in keep_set:
            continue
        _remove_tree(folder)
        removed.append(folder)
    return removed


def _remove_tree(folder: Path) -> None:
    """``shutil.rmtree`` (descriptor-based: no symlink is followed), making directories
    the code locked (mode 000) writable again first."""

    def unlock(function: object, path: str, info: object) -> None:
        for target in (os.path.dirname(path), path):
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(target).st_mode):  # never chmod through a link
                    os.chmod(target, 0o700)

    shutil.rmtree(folder, onerror=unlock)
    if os.path.lexists(folder):
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
        if os.path.lexists(folder):
            logger.warning("could not remove the old execution folder %s", folder)


def _storage_error(path: Path, exc: OSError, action: str) -> ExecutionStorageError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = (
            f"free disk space on the file system of {path.parent}, or set "
            "configurable.execution.execution_root to one with room"
        )
    else:
        fix = "set configurable.execution.execution_root to a writable local directory"
    return ExecutionStorageError(
        f"cannot {action} {path}: {reason}; fix: {fix}", path=str(path)
    )
