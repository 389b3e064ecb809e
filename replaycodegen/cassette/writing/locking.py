"""The cassette lock: one lock file per cassette, kept out of the cassette folders.

Lock files live in a private folder of the user cache (``platformdirs``' user cache dir,
``.../replaycodegen/locks``, created 0700), named by a hash of the cassette's real path,
so every process and pytest-xdist worker of one user that writes a cassette, through
whatever relative path or symlink, takes the same lock, and no ``<cassette>.lock`` is
left next to the cassettes. ``REPLAYCODEGEN_LOCK_DIR`` chooses another folder (for
example one shared by containers that mount the same project). When the cache cannot be
created (a read-only home), a private folder in the system temp dir is used.

A lock path that is a directory, a symlink or anything but a regular file is a
``CassetteError`` at once, never a wait.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from replaycodegen.errors import CassetteError

LOCK_DIR_ENV = "REPLAYCODEGEN_LOCK_DIR"
LOCK_TIMEOUT_SECONDS = 120.0


def _private_dir(path: Path, *, strict: bool) -> Path | None:
    """``path`` created 0700 if missing; ``None`` if it cannot be used. ``strict`` (a shared
    place such as /tmp): refuse a symlink, another owner or group/other access."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    if strict and hasattr(os, "getuid") and (
        st.st_uid != os.getuid() or st.st_mode & 0o077
    ):
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


def lock_directory() -> Path:
    """The folder lock files go to (see the module docstring)."""
    chosen = os.environ.get(LOCK_DIR_ENV)
    if chosen:
        found = _private_dir(Path(chosen).expanduser(), strict=False)
        if found is None:
            raise CassetteError(
                "cannot use the lock folder", path=chosen,
                hint=f"make it a writable folder, or unset {LOCK_DIR_ENV}",
            )
        return found
    import platformdirs

    found = _private_dir(Path(platformdirs.user_cache_dir("replaycodegen")) / "locks",
                         strict=False)
    if found is None:
        user = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
        found = _private_dir(Path(tempfile.gettempdir()) / f"replaycodegen-locks-{user}",
                             strict=True)
    if found is None:
        raise CassetteError(
            "no folder for cassette lock files: the user cache and the temp folder are "
            "not writable",
            hint=f"set {LOCK_DIR_ENV} to a writable folder",
        )
    return found


def lock_file_for(target: Path) -> Path:
    """The lock file of the cassette whose real path is ``target``."""
    digest = hashlib.sha256(os.fsencode(os.path.abspath(target))).hexdigest()[:40]
    return lock_directory() / f"{digest}.lock"


def _check_lock_path(lock: Path, cassette: Path) -> None:
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CassetteError(f"cannot use the lock file {lock}: {exc.strerror}",
                            path=str(cassette)) from None
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a symlink" if stat.S_ISLNK(st.st_mode)
            else "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file")
    raise CassetteError(
        f"the lock file {lock} is {kind}; nothing was written",
        path=str(cassette),
        hint=f"remove it (`rm -r {lock}`): replaycodegen creates it as an empty file",
    )


class CassetteLock:
    """A reentrant inter-process lock for one cassette (``with lock: ...``)."""

    def __init__(self, target: Path, *, timeout: float = LOCK_TIMEOUT_SECONDS,
                 display: Path | None = None) -> None:
        self.target = target
        self.display = display or target
        self.timeout = timeout
        self._lock: FileLock | None = None

    @property
    def lock_file(self) -> Path:
        return Path(self._file_lock().lock_file)

    def _file_lock(self) -> FileLock:
        if self._lock is None:
            self._lock = FileLock(str(lock_file_for(self.target)), timeout=self.timeout)
        return self._lock

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        lock = self._file_lock()
        path = Path(lock.lock_file)
        _check_lock_path(path, self.display)
        try:
            lock.acquire()
        except Timeout:
            raise CassetteError(
                f"timed out after {self.timeout:.0f}s waiting for the lock {path}",
                path=str(self.display),
                hint="another process is writing this cassette; if none is, delete the "
                "lock file",
            ) from None
        except OSError as exc:
            _check_lock_path(path, self.display)
            raise CassetteError(f"cannot take the lock {path}: {exc.strerror or exc}",
                                path=str(self.display)) from None
        try:
            yield
        finally:
            lock.release()
