"""Run code locally: a child of the same interpreter in a fresh folder, with hard limits.

The child gets its own process group (so a timeout kills everything it started), an
address-space limit, a copy of the environment without secrets, and ``PYTHONPATH``
pointing at this package so ``import replaycodegen.runtime`` works. Output is read
through pipes with a cap: the parent never holds more than ``max_output_bytes`` of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import replaycodegen
from replaycodegen import runtime
from replaycodegen.executor import bootstrap
from replaycodegen.executor.config import ExecutorConfigError
from replaycodegen.executor.results import ChannelWrite

__all__ = [
    "RunFailure",
    "RunLimits",
    "RunOutcome",
    "child_environment",
    "create_execution_folder",
    "run_code",
]

BOOTSTRAP_PATH = Path(bootstrap.__file__).resolve()
PACKAGE_PARENT = Path(replaycodegen.__file__).resolve().parent.parent
MAX_OUTCOME_BYTES = 64 * 1024 * 1024
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
_READ_CHUNK = 64 * 1024
_PIPE_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class RunLimits:
    """How long, how much memory and how much output one run may use."""

    timeout_seconds: float
    memory_limit_mb: int | None
    max_output_bytes: int


@dataclass(frozen=True)
class RunFailure:
    """Why a run produced no results; ``message`` starts with ``error_type``."""

    error_type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """Everything one run produced, successful or not."""

    folder: Path
    results: dict[str, Any] | None
    stdout: str
    stderr: str
    execution_time: float
    channel_writes: list[ChannelWrite] = field(default_factory=list)
    failure: RunFailure | None = None


def create_execution_folder(root: Path, name: str) -> Path:
    """A new, empty, uniquely named folder under ``root`` (created if needed)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "execution"
    folder = root / f"{stamp}-{slug}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ExecutorConfigError(
            f"cannot create an execution folder under {root}: {exc.strerror or exc}; "
            "fix: set configurable.execution.execution_root to a writable directory"
        ) from exc
    return folder


def is_secret_name(name: str) -> bool:
    """True for environment variables that must not reach generated code."""
    upper = name.upper()
    return upper.startswith("OPENAI_") or any(marker in upper for marker in _SECRET_MARKERS)


def child_environment(
    base: Mapping[str, str], *, state_file: Path, writes_allowed: bool
) -> dict[str, str]:
    """The child's environment: ``base`` without secrets, plus what the runtime needs."""
    env = {name: value for name, value in base.items() if not is_secret_name(name)}
    python_path = [str(PACKAGE_PARENT)]
    if base.get("PYTHONPATH"):
        python_path.append(base["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONIOENCODING="utf-8",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    env[runtime.STATE_FILE_ENV] = str(state_file)
    env[runtime.WRITES_ALLOWED_ENV] = "1" if writes_allowed else "0"
    return env


async def run_code(
    code: str,
    folder: Path,
    *,
    limits: RunLimits,
    channels: Mapping[str, Any],
    writes_allowed: bool,
) -> RunOutcome:
    """Run ``code`` in ``folder`` (which must exist) and collect what it produced."""
    (folder / bootstrap.CODE_FILE_NAME).write_text(code, encoding="utf-8")
    state_file = folder / runtime.STATE_FILE_NAME
    state_file.write_text(
        json.dumps({"channels": dict(channels), "writes": []}, indent=2), encoding="utf-8"
    )
    env = child_environment(os.environ, state_file=state_file, writes_allowed=writes_allowed)

    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOOTSTRAP_PATH),
        cwd=folder,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_memory_limiter(limits.memory_limit_mb),
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [
        asyncio.create_task(_read_capped(process.stdout, limits.max_output_bytes)),
        asyncio.create_task(_read_capped(process.stderr, limits.max_output_bytes)),
    ]
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout=limits.timeout_seconds)
    except TimeoutError:
        timed_out = True
    finally:
        # Also ends whatever the code left running in its group, even after a normal exit.
        _kill_group(process.pid)
        await process.wait()
    wall_time = time.perf_counter() - started
    stdout, stderr = await _collect(readers, limits.max_output_bytes)

    outcome = _read_outcome(folder)
    failure = _failure(outcome, process.returncode, timed_out, limits, stderr)
    results = outcome.get("results") if outcome is not None and failure is None else None
    execution_time = outcome.get("execution_time") if outcome is not None else None
    return RunOutcome(
        folder=folder,
        results=results,
        stdout=stdout,
        stderr=stderr,
        execution_time=float(execution_time) if execution_time is not None else wall_time,
        channel_writes=_channel_writes(state_file),
        failure=failure,
    )


def _memory_limiter(memory_limit_mb: int | None) -> Callable[[], None] | None:
    if memory_limit_mb is None:
        return None
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_limit_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def limit_address_space() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return limit_address_space


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class _CappedOutput:
    head: bytearray = field(default_factory=bytearray)
    total: int = 0


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> _CappedOutput:
    """Keep the first ``cap`` bytes, count and discard the rest, until end of stream."""
    output = _CappedOutput()
    while chunk := await stream.read(_READ_CHUNK):
        output.total += len(chunk)
        room = cap - len(output.head)
        if room > 0:
            output.head += chunk[:room]
    return output


async def _collect(readers: list[asyncio.Task[_CappedOutput]], cap: int) -> tuple[str, str]:
    # A process outside the group may still hold the pipes: do not wait for it forever.
    done, pending = await asyncio.wait(readers, timeout=_PIPE_DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    texts = []
    for task in readers:
        output = task.result() if task in done else _CappedOutput()
        texts.append(_render_output(output, cap))
    return texts[0], texts[1]


def _render_output(output: _CappedOutput, cap: int) -> str:
    text = output.head.decode("utf-8", errors="replace")
    omitted = output.total - len(output.head)
    if omitted > 0:
        text += (
            f"\n... [output truncated: {omitted} more bytes were discarded; "
            f"the limit is execution.max_output_bytes={cap}]"
        )
    return text


def _read_outcome(folder: Path) -> dict[str, Any] | None:
    path = folder / bootstrap.OUTCOME_FILE_NAME
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_OUTCOME_BYTES:
        return {"status": "results_too_large", "size": path.stat().st_size}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failure(
    outcome: dict[str, Any] | None,
    returncode: int | None,
    timed_out: bool,
    limits: RunLimits,
    stderr: str,
) -> RunFailure | None:
    if timed_out:
        return RunFailure(
            "TimeoutError",
            f"TimeoutError: the code did not finish within {limits.timeout_seconds:g} s "
            "and was killed; make it faster or raise execution.timeout_seconds",
        )
    if outcome is None:
        return _exit_failure(returncode, limits, stderr)
    status = outcome.get("status")
    if status == "ok":
        return None
    if status == "error":
        error_type = str(outcome.get("error_type", "Exception"))
        message = f"{error_type}: {outcome.get('message') or ''}".rstrip(": ")
        if error_type == "MemoryError":
            message = (
                f"MemoryError: the code ran out of memory (limit: execution.memory_limit_mb="
                f"{limits.memory_limit_mb}); process the data in smaller pieces"
            )
        return RunFailure(error_type, message, outcome.get("traceback"))
    if status == "missing_results":
        return RunFailure(
            "MissingResults",
            "MissingResults: the code ran but did not create required 'results' dictionary; "
            "assign a dict to results at module level, e.g. results = {'value': 42}",
        )
    if status == "invalid_results":
        return RunFailure(
            "InvalidResults",
            f"InvalidResults: 'results' must be a dict, got {outcome.get('type')}; "
            "assign a dict, e.g. results = {'value': 42}",
        )
    if status == "results_too_large":
        return RunFailure(
            "ResultsTooLarge",
            f"ResultsTooLarge: the results dict is {outcome.get('size')} bytes as JSON "
            f"(limit {MAX_OUTCOME_BYTES}); return summaries, write large data to files",
        )
    return RunFailure("ExecutionError", f"ExecutionError: unexpected outcome {outcome!r}")


def _exit_failure(returncode: int | None, limits: RunLimits, stderr: str) -> RunFailure:
    tail = stderr[-2000:] or None
    if returncode is not None and returncode < 0:
        number = -returncode
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = ""
        if number == signal.SIGKILL:
            hint = f" (out of memory? execution.memory_limit_mb={limits.memory_limit_mb})"
        return RunFailure(
            "ProcessKilled", f"ProcessKilled: the process was killed by {name}{hint}", tail
        )
    return RunFailure(
        "ProcessExited",
        f"ProcessExited: the process exited with code {returncode} before reporting "
        "results (os._exit or a crash of the interpreter?)",
        tail,
    )


def _channel_writes(state_file: Path) -> list[ChannelWrite]:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        return [
            ChannelWrite(str(w["channel"]), w.get("value"), w.get("previous"))
            for w in state.get("writes", [])
        ]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []
