"""A cgroup for one execution's whole process tree: a memory limit with swap off, a cap on
the number of processes (threads count too), a kill that reaches every member, and
removal after the run.

Two layouts are supported, found from ``/proc/self/mountinfo`` and ``/proc/self/cgroup``:

- cgroup v2, when the service's own cgroup lets a child use the ``memory`` and ``pids``
  controllers (in practice: the service is in its namespace's root cgroup, or its cgroup
  already delegates both);
- cgroup v1, with the ``memory`` and ``pids`` hierarchies mounted and writable (the new
  cgroups are made under the service's own cgroup in each, so its limits still apply).

When neither can be used, ``TreeCgroup.create`` returns None and the caller falls back to
per-process rlimits. The child joins in ``preexec_fn`` (before exec), through descriptors
opened here, so not one instruction of the code runs outside the cgroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupHost", "TreeCgroup"]

logger = logging.getLogger("replaycodegen.executor")

_REMOVE_SECONDS = 2.0
_EMPTY_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class CgroupHost:
    """Where the cgroup hierarchies are mounted and where this process sits in them."""

    mountinfo: str
    self_cgroup: str

    @classmethod
    def current(cls) -> CgroupHost:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
            self_cgroup = Path("/proc/self/cgroup").read_text(encoding="utf-8")
        except OSError:
            return cls("", "")
        return cls(mountinfo, self_cgroup)

    def mounts(self) -> list[tuple[str, str, str, set[str]]]:
        """(mount root, mount point, fstype, super options) of every cgroup mount."""
        found = []
        for line in self.mountinfo.splitlines():
            fields = line.split()
            if "-" not in fields:
                continue
            dash = fields.index("-")
            if len(fields) < dash + 4 or dash < 5:
                continue
            fstype = fields[dash + 1]
            if fstype in ("cgroup", "cgroup2"):
                options = set(fields[dash + 3].split(","))
                found.append((_unescape(fields[3]), _unescape(fields[4]), fstype, options))
        return found

    def own_paths(self) -> dict[str, str]:
        """Controller (``""`` for v2) -> this process's cgroup path in that hierarchy."""
        paths: dict[str, str] = {}
        for line in self.self_cgroup.splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            _, controllers, path = parts
            if controllers == "":
                paths[""] = path
            for controller in controllers.split(","):
                if controller:
                    paths[controller] = path
        return paths

    def directory(self, controller: str) -> Path | None:
        """This process's cgroup directory for ``controller`` (``""``: the v2 one)."""
        own = self.own_paths().get(controller)
        if own is None:
            return None
        for root, point, fstype, options in self.mounts():
            wanted = fstype == "cgroup2" if controller == "" else (
                fstype == "cgroup" and controller in options
            )
            if wanted and (own == root or own.startswith(root.rstrip("/") + "/")):
                relative = own[len(root) :].lstrip("/")
                return Path(point) / relative if relative else Path(point)
        return None


def _unescape(text: str) -> str:
    r"""mountinfo escapes space, tab, newline and backslash as ``\040`` etc."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class TreeCgroup:
    """The cgroup directories (one for v2, two for v1) of one execution."""

    def __init__(self, version: int, memory_dir: Path, pids_dir: Path) -> None:
        self.version = version
        self.memory_dir = memory_dir
        self.pids_dir = pids_dir
        self._join_fds: list[int] = []

    @property
    def directories(self) -> list[Path]:
        return [self.memory_dir] if self.memory_dir == self.pids_dir else [
            self.memory_dir,
            self.pids_dir,
        ]

    @classmethod
    def create(
        cls, *, memory_bytes: int | None, max_processes: int, host: CgroupHost | None = None
    ) -> TreeCgroup | None:
        """A new cgroup with these limits, or None when none can be made here."""
        host = host or CgroupHost.current()
        name = f"replaycodegen-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for make in (cls._create_v2, cls._create_v1):
            try:
                cgroup = make(host, name)
            except OSError as exc:
                logger.debug("cgroup %s not usable: %s", make.__name__, exc)
                continue
            if cgroup is None:
                continue
            try:
                cgroup._set_limits(memory_bytes, max_processes)
                cgroup._open_join_fds()
            except OSError as exc:
                logger.debug("cannot set cgroup limits: %s", exc)
                cgroup.remove_now()
                continue
            return cgroup
        return None

    @classmethod
    def _create_v2(cls, host: CgroupHost, name: str) -> TreeCgroup | None:
        parent = host.directory("")
        if parent is None or not (parent / "cgroup.controllers").is_file():
            return None
        available = set((parent / "cgroup.controllers").read_text().split())
        if not {"memory", "pids"} <= available:
            return None
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            # Refused (EBUSY) unless the parent holds no processes of its own.
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        child = parent / name
        child.mkdir(mode=0o755)
        return cls(2, child, child)

    @classmethod
    def _create_v1(cls, host: CgroupHost, name: str) -> TreeCgroup | None:
        memory_parent, pids_parent = host.directory("memory"), host.directory("pids")
        if memory_parent is None or pids_parent is None:
            return None
        memory_dir, pids_dir = memory_parent / name, pids_parent / name
        memory_dir.mkdir(mode=0o755)
        try:
            pids_dir.mkdir(mode=0o755)
        except OSError:
            memory_dir.rmdir()
            raise
        return cls(1, memory_dir, pids_dir)

    def _set_limits(self, memory_bytes: int | None, max_processes: int) -> None:
        (self.pids_dir / "pids.max").write_text(str(max_processes))
        if memory_bytes is None:
            return
        if self.version == 2:
            (self.memory_dir / "memory.max").write_text(str(memory_bytes))
            swap = self.memory_dir / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
            return
        (self.memory_dir / "memory.limit_in_bytes").write_text(str(memory_bytes))
        memsw = self.memory_dir / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # memory + swap = memory: no swap (absent without swap accounting)
            memsw.write_text(str(memory_bytes))

    def _open_join_fds(self) -> None:
        for directory in self.directories:
            self._join_fds.append(
                os.open(directory / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
            )

    def join_in_child(self) -> None:
        """Move the calling process into this cgroup; meant for ``preexec_fn``."""
        pid = str(os.getpid()).encode()
        for fd in self._join_fds:
            os.write(fd, pid)

    def close_join_fds(self) -> None:
        for fd in self._join_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._join_fds = []

    def members(self) -> set[int]:
        pids: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(OSError, ValueError):
                text = (directory / "cgroup.procs").read_text()
                pids.update(int(p) for p in text.split())
        return pids

    def kill(self) -> None:
        """SIGKILL every member now (``cgroup.kill`` on v2, one by one on v1)."""
        if self.version == 2:
            with contextlib.suppress(OSError):
                (self.memory_dir / "cgroup.kill").write_text("1")
                return
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    async def kill_all(self, timeout: float = _REMOVE_SECONDS) -> bool:
        """Kill until no member is left (forks racing the kill are caught by the next
        pass; the process cap bounds them); True when the cgroup is empty."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.kill()
            if not self.members():
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_EMPTY_POLL_SECONDS)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a member for going over the memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _counter(self.memory_dir / name, "oom_kill") > 0

    def hit_process_limit(self) -> bool:
        """Whether a fork or thread was refused for going over the process cap."""
        return _counter(self.pids_dir / "pids.events", "max") > 0

    async def remove(self) -> None:
        """Kill what is left and remove the directories (retried while members exit)."""
        self.close_join_fds()
        await self.kill_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _REMOVE_SECONDS
        while not self.remove_now() and loop.time() < deadline:
            await asyncio.sleep(_EMPTY_POLL_SECONDS)

    def remove_now(self) -> bool:
        self.close_join_fds()
        removed = True
        for directory in self.directories:
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    logger.debug("cannot remove cgroup %s: %s", directory, exc)
                removed = False
        return removed


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0
