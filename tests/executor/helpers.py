"""Test helpers: a tiny scripted generator, and a look at what ran."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.models import ErrorChainItem, ExecutionError, PythonExecutionRequest


class ScriptedGenerator:
    """Returns ``codes[i]`` on call ``i`` (the last one repeats); raises ``error`` if given."""

    def __init__(self, *codes: str, error: BaseException | None = None) -> None:
        self.codes = list(codes)
        self.error = error
        self.chains: list[list[ErrorChainItem]] = []

    @property
    def call_count(self) -> int:
        return len(self.chains)

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        self.chains.append(list(error_chain))
        if self.error is not None:
            raise self.error
        return self.codes[min(len(self.chains), len(self.codes)) - 1]

    def get_generation_metadata(self) -> dict[str, Any]:
        return {"generator": "scripted", "calls": self.call_count}


async def fails_once(
    code: str, request: PythonExecutionRequest, config: dict[str, Any]
) -> ExecutionError:
    """Run ``code`` for one attempt through the service; the failure it must end in."""
    from replaycodegen.errors import CodeRuntimeError
    from replaycodegen.executor import PythonExecutorService

    service = PythonExecutorService(generator=ScriptedGenerator(code))
    with pytest.raises(CodeRuntimeError) as info:
        await service.ainvoke(request.model_copy(update={"retries": 1}), config)
    (error,) = info.value.error_chain
    assert isinstance(error, ExecutionError)
    return error


def execution_folders(root: Path) -> list[Path]:
    """The execution folders created under ``root`` so far (proof that something ran)."""
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def processes_under(root: Path) -> dict[int, Path]:
    """Live processes working in ``root`` or below, by host pid, seen from outside (so
    whatever pid namespace they are in); zombies waiting for a reaper are left out."""
    target = root.resolve()
    found: dict[int, Path] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(f"/proc/{entry.name}/cwd"))
        except OSError:
            continue
        if (cwd == target or target in cwd.parents) and is_running(int(entry.name)):
            found[int(entry.name)] = cwd
    return found


def is_running(pid: int) -> bool:
    """True while ``pid`` is alive; a zombie counts as ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


async def ends(pid: int) -> bool:
    """Whether ``pid`` ends soon: SIGKILL is delivered asynchronously."""
    for _ in range(100):
        if not is_running(pid):
            return True
        await asyncio.sleep(0.02)
    return False


class ProcessWatch:
    """While a run goes on, records every process working under ``root`` (from outside),
    the most alive at once and the most resident memory they held together."""

    def __init__(self, root: Path, interval: float = 0.01) -> None:
        self.root = root
        self.interval = interval
        self.seen: dict[int, Path] = {}
        self.most_at_once = 0
        self.most_resident_bytes = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ProcessWatch:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def pids(self, under: str = "") -> list[int]:
        """Pids seen whose working directory ends with ``under``."""
        return [pid for pid, cwd in self.seen.items() if not under or cwd.name == under]

    async def _poll(self) -> None:
        while True:
            if self.root.exists():
                alive = await asyncio.to_thread(processes_under, self.root)
                self.seen.update(alive)
                self.most_at_once = max(self.most_at_once, len(alive))
                resident = sum(resident_bytes(pid) for pid in alive)
                self.most_resident_bytes = max(self.most_resident_bytes, resident)
            await asyncio.sleep(self.interval)


def _sandbox_skip_reason() -> str:
    from replaycodegen.executor.sandbox import sandbox_status

    status = sandbox_status()
    return "" if status.available else f"the sandbox cannot run here: {status.reason}"


SANDBOX_MISSING = _sandbox_skip_reason()
requires_sandbox = pytest.mark.skipif(bool(SANDBOX_MISSING), reason=SANDBOX_MISSING)


def cgroup_skip_reason() -> str:
    """Why a tree-wide bound (memory, process count) cannot be tested here, or ``""``."""
    from replaycodegen.executor.sandbox.cgroups import TreeCgroup

    cgroup = TreeCgroup.create(memory_bytes=2**30, max_processes=64)
    if cgroup is None:
        return "no cgroup can be made here (cgroup v2 without delegation, or no v1 memory+pids)"
    cgroup.remove_now()
    return ""


NO_CGROUP = cgroup_skip_reason()
requires_cgroup = pytest.mark.skipif(bool(NO_CGROUP), reason=NO_CGROUP)
