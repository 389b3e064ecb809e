"""What the service does to a tree the code made, once the code is gone: make it safe to
keep, and remove it, whatever its shape.

Both walks are iterative and descriptor-based: no symlink is followed, no path is ever
longer than one name, and no recursion happens, so a tree 100,000 levels deep (the code
can make one faster than the disk watcher looks) neither overflows the stack nor runs out
of descriptors. (``shutil.rmtree`` recursed once per level: the next service to prune a
root holding such a tree died of ``RecursionError``.)

- ``secure_tree``: the folder back to mode 0700 (and to the service's own uid), no
  set-user-ID or set-group-ID bit left on anything in it (a set-user-ID copy of a shell
  the code left behind would run as the service's user for whoever can reach it), and no
  directory deeper than ``max_depth`` levels (they are removed: pytest's and other
  tools' cleanups recurse too).
- ``remove_tree``: removes a tree by moving every subdirectory up to the top before
  emptying it, so at most two directories are open at a time.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["remove_tree", "secure_tree"]

_SET_ID_BITS = stat.S_ISUID | stat.S_ISGID
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def secure_tree(folder_fd: int, *, max_depth: int, owner: tuple[int, int] | None) -> None:
    """Make the tree under ``folder_fd`` safe to keep (see the module docstring).

    ``owner``: give the folder itself back to this (uid, gid) (it was lent to the
    sandbox's user). Errors on single entries are skipped: this is best effort on a
    tree nobody writes any more.
    """
    if owner is not None:
        with contextlib.suppress(OSError):
            os.fchown(folder_fd, *owner)
    os.fchmod(folder_fd, 0o700)
    # Depth first, one open directory per level (at most max_depth + 1 descriptors).
    top = os.dup(folder_fd)
    stack = [(top, 0, _entries(top))]
    try:
        while stack:
            fd, depth, pending = stack[-1]
            if not pending:
                os.close(fd)
                stack.pop()
                continue
            name, info = pending.pop()
            if stat.S_ISDIR(info.st_mode):
                if depth + 1 > max_depth:
                    _remove_entry(fd, name)
                    continue
                _strip_set_id(fd, name, info)
                child = _open_dir(fd, name, info)
                if child is not None:
                    stack.append((child, depth + 1, _entries(child)))
            elif stat.S_ISREG(info.st_mode):
                _strip_set_id(fd, name, info)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove the directory ``path`` and everything under it (never through a link)."""
    parent = os.open(path.parent, _OPEN_DIR)
    try:
        info = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(path.name, dir_fd=parent)
            return
        top = _open_dir(parent, path.name, info)
        if top is None:
            raise PermissionError(f"cannot open {path}")
        try:
            _empty(top)
        finally:
            os.close(top)
        os.rmdir(path.name, dir_fd=parent)
    finally:
        os.close(parent)


def _empty(top: int) -> None:
    """Empty the directory ``top``: files go at once; each subdirectory's own
    subdirectories are moved up into ``top`` before it is emptied and removed."""
    while True:
        directories = []
        for name, info in _entries(top):
            if stat.S_ISDIR(info.st_mode):
                directories.append((name, info))
            else:
                os.unlink(name, dir_fd=top)
        if not directories:
            return
        for name, info in directories:
            sub = _open_dir(top, name, info)
            if sub is None:
                raise PermissionError(f"cannot open the directory {name!r} to remove it")
            try:
                for child, child_info in _entries(sub):
                    if stat.S_ISDIR(child_info.st_mode):
                        moved = f".replaycodegen-removing-{uuid.uuid4().hex}"
                        os.rename(child, moved, src_dir_fd=sub, dst_dir_fd=top)
                    else:
                        os.unlink(child, dir_fd=sub)
            finally:
                os.close(sub)
            os.rmdir(name, dir_fd=top)


def _remove_entry(fd: int, name: str) -> None:
    with contextlib.suppress(OSError):
        sub = _open_dir(fd, name, os.stat(name, dir_fd=fd, follow_symlinks=False))
        if sub is None:
            return
        try:
            _empty(sub)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=fd)


def _entries(fd: int) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of every entry of the directory ``fd``."""
    found = []
    with os.scandir(fd) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                found.append((entry.name, entry.stat(follow_symlinks=False)))
    return found


def _open_dir(fd: int, name: str, info: os.stat_result) -> int | None:
    """The directory ``name`` opened, made usable (rwx for its owner) if the code locked
    it; None when it cannot be opened (or is no longer a directory)."""
    if info.st_mode & stat.S_IRWXU != stat.S_IRWXU:
        _chmod_entry(fd, name, lambda mode: mode | stat.S_IRWXU, stat.S_ISDIR)
    try:
        return os.open(name, _OPEN_DIR, dir_fd=fd)
    except OSError:
        return None


def _strip_set_id(fd: int, name: str, info: os.stat_result) -> None:
    if info.st_mode & _SET_ID_BITS:
        _chmod_entry(fd, name, lambda mode: mode & ~_SET_ID_BITS, _is_file_or_dir)


def _is_file_or_dir(mode: int) -> bool:
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def _chmod_entry(
    fd: int, name: str, change: Callable[[int], int], kind: Callable[[int], bool]
) -> None:
    """chmod the entry itself, never what a link there points to: the entry may have been
    swapped for a symlink since it was listed (code still running when another service
    prunes its folder). Pinned with ``O_PATH | O_NOFOLLOW``, checked, changed through
    ``/proc/self/fd`` (which acts on the pinned inode, not on a path)."""
    try:
        pinned = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return
    try:
        mode = os.fstat(pinned).st_mode
        if kind(mode):
            os.chmod(f"/proc/self/fd/{pinned}", change(stat.S_IMODE(mode)))
    except OSError:
        pass
    finally:
        os.close(pinned)
