"""Start one child (the sandbox, or the bare interpreter), bound it, wait for it exactly.

- The child gets its own session and process group, its own cgroup when one can be made
  (memory across the whole tree, swap off, a process cap), and rlimits: address space
  per process, file size per file, no core dumps, and ``RLIMIT_NPROC`` where it counts.
- The wait is on the process itself (a pidfd in the event loop), never on its pipes: a
  grandchild that keeps stdout open cannot make quick code look slow, and at the
  deadline the whole tree is killed (process group, cgroup, and under bubblewrap the pid
  namespace, whose init takes every descendant with it).
- Output is read with a cap while the code runs; after the child is gone the pipes get
  a short grace period and are then closed, whoever still holds them.
- The execution folder is measured while the code runs; past the disk cap the tree is
  killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from replaycodegen.executor.sandbox.cgroups import TreeCgroup
from replaycodegen.executor.sandbox.diskwatch import measure_folder, watch_folder

__all__ = ["CappedOutput", "LaunchSpec", "ProcessLimits", "ProcessReport", "run_process"]

logger = logging.getLogger("replaycodegen.executor")

PIPE_GRACE_SECONDS = 0.25
EXIT_AFTER_KILL_SECONDS = 5.0
MAX_FOLDER_ENTRIES = 10_000
_cgroups_broken = False


@dataclass(frozen=True)
class ProcessLimits:
    """The bounds of one run; ``None`` memory means no memory limit."""

    timeout_seconds: float
    memory_limit_mb: int | None
    max_output_bytes: int
    max_processes: int
    max_disk_mb: int
    max_folder_entries: int = MAX_FOLDER_ENTRIES


@dataclass(frozen=True)
class LaunchSpec:
    """What to start, where, with which environment and inherited descriptors."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path
    folder: Path
    limits: ProcessLimits
    pass_fds: tuple[int, ...] = ()
    in_user_namespace: bool = False


@dataclass
class CappedOutput:
    """The first ``cap`` bytes of a stream, and how many bytes it had in all."""

    cap: int
    head: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.head)
        if room > 0:
            self.head += data[:room]

    def text(self) -> str:
        text = self.head.decode("utf-8", errors="replace")
        omitted = self.total - len(self.head)
        if omitted > 0:
            text += (
                f"\n... [output truncated: {omitted} more bytes were discarded; "
                f"the limit is execution.max_output_bytes={self.cap}]"
            )
        return text


@dataclass(frozen=True)
class ProcessReport:
    """How the child ended and what it printed."""

    returncode: int | None
    timed_out: bool
    stdout: str
    stderr: str
    wall_time: float
    disk_problem: str | None = None
    oom_killed: bool = False
    process_limit_hit: bool = False
    cgroup_used: bool = False


def _factory(reader: _PipeReader) -> Callable[[], _PipeReader]:
    return lambda: reader


class _PipeReader(asyncio.Protocol):
    def __init__(self, output: CappedOutput) -> None:
        self.output = output
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.output.add(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run_process(spec: LaunchSpec, *, finished: asyncio.Event | None = None) -> ProcessReport:
    """Run ``spec`` to its end, or kill it at the deadline or the disk cap.

    ``finished`` is set by the caller when the code reported its outcome: a child that
    reported in time is not a timeout even if it is still exiting at the deadline.
    """
    limits = spec.limits
    cgroup = _new_cgroup(limits)
    started = time.perf_counter()
    process = _spawn(spec, cgroup)
    if process is None:  # the cgroup could not be joined: run without it
        if cgroup is not None:
            await cgroup.remove()
        cgroup = None
        process = _spawn(spec, None)
        assert process is not None
    loop = asyncio.get_running_loop()
    stdout, stderr = CappedOutput(limits.max_output_bytes), CappedOutput(limits.max_output_bytes)
    pipes = []
    for stream, output in ((process.stdout, stdout), (process.stderr, stderr)):
        assert stream is not None
        reader = _PipeReader(output)
        transport, _ = await loop.connect_read_pipe(_factory(reader), stream)
        pipes.append((transport, reader))

    disk_problem: list[str] = []
    disk_stop = loop.create_future()

    def on_disk_exceeded(problem: str) -> None:
        disk_problem.append(problem)
        if not disk_stop.done():
            disk_stop.set_result(None)

    watcher = asyncio.create_task(
        watch_folder(
            spec.folder,
            max_bytes=limits.max_disk_mb * 2**20,
            max_entries=limits.max_folder_entries,
            on_exceeded=on_disk_exceeded,
        )
    )
    exit_task = asyncio.create_task(_wait_for_exit(process))
    timed_out = False
    try:
        await asyncio.wait(
            {exit_task, disk_stop},
            timeout=limits.timeout_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not exit_task.done() and not disk_stop.done():
            timed_out = finished is None or not finished.is_set()
    finally:
        watcher.cancel()
        _kill_tree(process, cgroup)  # also whatever the code left behind after a normal exit
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exit_task), EXIT_AFTER_KILL_SECONDS)
        oom_killed = process_limit_hit = False
        if cgroup is not None:
            await cgroup.kill_all()
            oom_killed, process_limit_hit = cgroup.oom_killed(), cgroup.hit_process_limit()
            await cgroup.remove()
        await _close_pipes(pipes)
        disk_stop.cancel()
    wall_time = time.perf_counter() - started
    if not disk_problem:
        final = measure_folder(spec.folder, limits.max_folder_entries)
        problem = final.problem(limits.max_disk_mb * 2**20, limits.max_folder_entries)
        if problem is not None:
            disk_problem.append(problem)
    return ProcessReport(
        returncode=process.returncode,
        timed_out=timed_out,
        stdout=stdout.text(),
        stderr=stderr.text(),
        wall_time=wall_time,
        disk_problem=disk_problem[0] if disk_problem else None,
        oom_killed=oom_killed,
        process_limit_hit=process_limit_hit,
        cgroup_used=cgroup is not None,
    )


def _new_cgroup(limits: ProcessLimits) -> TreeCgroup | None:
    if _cgroups_broken:
        return None
    memory = limits.memory_limit_mb * 2**20 if limits.memory_limit_mb is not None else None
    return TreeCgroup.create(memory_bytes=memory, max_processes=limits.max_processes)


def _spawn(spec: LaunchSpec, cgroup: TreeCgroup | None) -> subprocess.Popen[bytes] | None:
    """Start the child; None when joining ``cgroup`` failed (the caller retries without)."""
    global _cgroups_broken
    try:
        return subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.cwd,
            env=spec.env,
            pass_fds=spec.pass_fds,
            close_fds=True,
            start_new_session=True,
            preexec_fn=_child_setup(spec, cgroup),
        )
    except subprocess.SubprocessError:
        if cgroup is None:
            raise
        logger.info("cannot move executions into a cgroup here; using rlimits only")
        _cgroups_broken = True
        return None
    finally:
        if cgroup is not None:
            cgroup.close_join_fds()


def _child_setup(spec: LaunchSpec, cgroup: TreeCgroup | None) -> Callable[[], None]:
    limits = _rlimits(spec.limits, spec.in_user_namespace)

    def setup() -> None:  # runs in the child between fork and exec
        if cgroup is not None:
            cgroup.join_in_child()
        for which, value in limits:
            resource.setrlimit(which, (value, value))

    return setup


def _rlimits(limits: ProcessLimits, in_user_namespace: bool) -> list[tuple[int, int]]:
    wanted = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, limits.max_disk_mb * 2**20)]
    if limits.memory_limit_mb is not None:
        wanted.append((resource.RLIMIT_AS, limits.memory_limit_mb * 2**20))
    if in_user_namespace and os.geteuid() != 0 and _kernel_at_least(5, 14):
        # Counted per user namespace since 5.14, so it bounds the sandbox alone; outside
        # one it would count every process of the user, and root is exempt anyway.
        wanted.append((resource.RLIMIT_NPROC, limits.max_processes))
    out = []
    for which, value in wanted:
        _, hard = resource.getrlimit(which)
        out.append((which, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return out


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        numbers = platform.release().split("-")[0].split(".")
        return (int(numbers[0]), int(numbers[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


async def _wait_for_exit(process: subprocess.Popen[bytes]) -> int:
    """Wait for the process itself to end (not for its pipes to close)."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return await asyncio.to_thread(process.wait)
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    try:
        loop.add_reader(pidfd, on_exit)
    except NotImplementedError:
        os.close(pidfd)
        return await asyncio.to_thread(process.wait)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return process.wait()


def _kill_tree(process: subprocess.Popen[bytes], cgroup: TreeCgroup | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if cgroup is not None:
        cgroup.kill()


async def _close_pipes(pipes: list[tuple[asyncio.ReadTransport, _PipeReader]]) -> None:
    """Give the pipes a moment to deliver what is buffered, then close them regardless."""
    pending = [reader.closed for _, reader in pipes if not reader.closed.done()]
    if pending:
        await asyncio.wait(pending, timeout=PIPE_GRACE_SECONDS)
    for transport, _ in pipes:
        transport.close()
