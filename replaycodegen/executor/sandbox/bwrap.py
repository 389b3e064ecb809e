"""The bubblewrap command line for one execution; every namespace and mount is explained.

The sandbox starts from an empty root (bubblewrap's private tmpfs, made read-only at the
end) and gets only what the Python interpreter needs to run the code, read-only: the
system's ``/usr`` and library directories, the loader's files in ``/etc``, the Python
prefix(es), the site-packages directories and the ``replaycodegen`` package directory
(its folder only: in an editable install that is ``<checkout>/replaycodegen``, never the
checkout). The execution folder is the only writable host path; ``/tmp`` and
``/dev/shm`` are private, size-capped tmpfs mounts. ``/etc/passwd`` and ``/etc/group``
are written for the sandbox user, never copied from the host.
"""

from __future__ import annotations

import functools
import os
import site
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import replaycodegen

__all__ = [
    "SANDBOX_GID",
    "SANDBOX_UID",
    "SandboxLayout",
    "bwrap_command",
    "group_text",
    "passwd_text",
    "python_read_only_paths",
]

SANDBOX_UID = 1000
SANDBOX_GID = 1000
SANDBOX_USER = "sandbox"
SANDBOX_HOSTNAME = "replaycodegen-sandbox"

# Top-level system directories: bound read-only, or re-created as the symlinks they are
# on merged-/usr systems (``/lib -> usr/lib``). Executables and shared libraries only.
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What the dynamic loader and the C library read from /etc; nothing with secrets.
_ETC_FILES = (
    "/etc/ld.so.cache",  # where the shared libraries are (the loader reads nothing else)
    "/etc/alternatives",  # Debian's /usr/bin/... -> /etc/alternatives/... symlinks
    "/etc/localtime",  # the time zone, for time.localtime()
)


@dataclass(frozen=True)
class SandboxLayout:
    """What differs between executions: the folder, the environment, the data fds."""

    folder: Path
    env: Mapping[str, str]
    tmp_size_bytes: int
    passwd_fd: int
    group_fd: int


def bwrap_command(
    bwrap: str, layout: SandboxLayout, command: Sequence[str], features: Iterable[str]
) -> list[str]:
    """The full argv: ``bwrap <flags> -- <command>``.

    ``features`` are the optional flags this bwrap supports (``--size``,
    ``--disable-userns``, ``--unshare-cgroup-try``), as found by the probe.
    """
    supported = frozenset(features)
    args = [bwrap]
    args += _namespaces(supported)
    args += [
        "--die-with-parent",  # if the service dies, the sandbox dies with it
        "--new-session",  # no controlling terminal: no TIOCSTI into the service's tty
        "--cap-drop", "ALL",  # as root, bwrap would otherwise keep its capabilities
    ]  # fmt: skip
    size = ["--size", str(layout.tmp_size_bytes)] if "--size" in supported else []
    # Fresh mounts first: binds below may lie under /tmp (a checkout or venv in /tmp)
    # and must land on top of the private tmpfs, not be hidden by it.
    args += [
        "--proc", "/proc",  # a fresh procfs: only the sandbox's own processes are in it
        "--dev", "/dev",  # null, zero, full, random, urandom, tty, pts; no host devices
        *size, "--tmpfs", "/dev/shm",  # POSIX shared memory (multiprocessing locks)
        *size, "--tmpfs", "/tmp",  # a private, empty /tmp
    ]  # fmt: skip
    args += _system_mounts()
    for path in python_read_only_paths():
        args += ["--ro-bind", str(path), str(path)]
    for etc_file in _ETC_FILES:
        args += ["--ro-bind-try", etc_file, etc_file]
    args += [
        "--bind", str(layout.folder), str(layout.folder),  # the only writable host path
        "--ro-bind-data", str(layout.passwd_fd), "/etc/passwd",
        "--ro-bind-data", str(layout.group_fd), "/etc/group",
        "--remount-ro", "/dev",  # nothing new under /dev (its tmpfs is not size-capped)
        "--remount-ro", "/",  # the sandbox root: no writes outside the mounts above
        "--chdir", str(layout.folder),
        "--hostname", SANDBOX_HOSTNAME,
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_GID),
        "--clearenv",  # nothing of the service's environment reaches the code ...
    ]  # fmt: skip
    for name, value in layout.env.items():  # ... except this allow-list
        args += ["--setenv", name, value]
    args += ["--", *command]
    return args


def _namespaces(supported: frozenset[str]) -> list[str]:
    args = [
        "--unshare-user",  # unprivileged inside: the code's uid maps to the service's only
        "--unshare-pid",  # the code sees only its own processes, cannot signal the service
        "--unshare-net",  # only a loopback of its own: no network at all
        "--unshare-ipc",  # no SysV IPC / POSIX queues shared with the host
        "--unshare-uts",  # its own hostname
    ]
    if "--unshare-cgroup-try" in supported:
        args.append("--unshare-cgroup-try")  # host cgroup paths hidden where possible
    if "--disable-userns" in supported:
        args.append("--disable-userns")  # no nested user namespaces (kernel attack surface)
    return args


def _system_mounts() -> list[str]:
    args: list[str] = []
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


@functools.cache
def python_read_only_paths() -> tuple[Path, ...]:
    """The interpreter's prefixes, its site-packages and this package's directory:
    the smallest set of host directories under which every import of the code resolves.
    Nested paths and paths under the system directories are dropped."""
    package_dir = Path(replaycodegen.__file__).resolve().parent
    executable_dir = Path(os.path.realpath(sys.executable)).parent
    candidates: list[str | Path] = [
        sys.base_prefix,
        sys.prefix,
        sys.base_exec_prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
        *_user_site(),
        executable_dir,
        package_dir,
    ]
    return minimal_cover(Path(c) for c in candidates)


def _user_site() -> list[str]:
    user_site = site.getusersitepackages()
    return [user_site] if user_site in sys.path and os.path.isdir(user_site) else []


def minimal_cover(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Existing absolute ``paths`` without those inside another one or under the system
    directories; ``/`` itself is never a candidate."""
    system = [Path(p) for p in _SYSTEM_DIRS]
    chosen: list[Path] = []
    for path in sorted({Path(os.path.abspath(p)) for p in paths}, key=lambda p: len(p.parts)):
        if path == Path("/") or not path.is_dir():
            continue
        if any(path == root or root in path.parents for root in [*system, *chosen]):
            continue
        chosen.append(path)
    return tuple(sorted(chosen))


def passwd_text(home: Path) -> str:
    """``/etc/passwd`` inside: the sandbox user (home = the execution folder) and nobody."""
    return (
        f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:replaycodegen sandbox:{home}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )


def group_text() -> str:
    """``/etc/group`` inside: the sandbox user's group and nogroup."""
    return f"{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"
