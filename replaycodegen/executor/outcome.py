"""Why a run produced no results: the failure the error chain shows, from what the service
saw (the process's end, the limits it hit) and what the code reported over the channel."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from replaycodegen import runtime
from replaycodegen.executor.channel import ChannelSession
from replaycodegen.executor.sandbox.process import ProcessLimits, ProcessReport

__all__ = ["RunFailure", "classify"]


@dataclass(frozen=True)
class RunFailure:
    """Why a run produced no results; ``message`` starts with ``error_type``."""

    error_type: str
    message: str
    traceback: str | None = None


def classify(
    report: ProcessReport, session: ChannelSession, limits: ProcessLimits, *, sandboxed: bool
) -> RunFailure | None:
    """None when the code ran and reported a results dict; the failure otherwise."""
    failure = _failure(report, session, limits, sandboxed=sandboxed)
    if failure is not None and report.process_limit_hit:
        return RunFailure(
            failure.error_type,
            f"{failure.message} (the code reached the process cap "
            f"execution.max_processes={limits.max_processes})",
            failure.traceback,
        )
    return failure


def _failure(
    report: ProcessReport, session: ChannelSession, limits: ProcessLimits, *, sandboxed: bool
) -> RunFailure | None:
    if report.timed_out:
        return RunFailure(
            "TimeoutError",
            f"TimeoutError: the code did not finish within {limits.timeout_seconds:g} s "
            "and was killed; make it faster or raise execution.timeout_seconds",
        )
    if report.disk_problem is not None:
        return RunFailure(
            "DiskLimitExceeded",
            f"DiskLimitExceeded: the code wrote {report.disk_problem} in its execution "
            f"folder and was stopped (limits: execution.max_disk_mb={limits.max_disk_mb}, "
            f"{limits.max_folder_entries} entries); write less, or raise execution.max_disk_mb",
        )
    if session.outcome_problem is not None:
        return RunFailure(
            "InvalidResults",
            f"InvalidResults: {session.outcome_problem}; return plain numbers, strings, "
            "lists and dicts",
        )
    if session.outcome is None:
        return _no_outcome(report, session, limits, sandboxed=sandboxed)
    return _reported_failure(session.outcome, limits)


def _reported_failure(outcome: dict[str, Any], limits: ProcessLimits) -> RunFailure | None:
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
        traceback = outcome.get("traceback")
        return RunFailure(error_type, message, traceback if isinstance(traceback, str) else None)
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
    if status == "unserialisable_results":
        return RunFailure(
            "InvalidResults",
            f"InvalidResults: results{outcome.get('where') or ''} {outcome.get('problem')}",
        )
    if status == "results_too_large":
        return RunFailure(
            "ResultsTooLarge",
            f"ResultsTooLarge: the results dict is {outcome.get('size')} bytes as JSON "
            f"(limit {runtime.MAX_OUTCOME_BYTES}); return summaries, write large data to files",
        )
    return RunFailure("ExecutionError", f"ExecutionError: unexpected outcome status {status!r}")


def _no_outcome(
    report: ProcessReport, session: ChannelSession, limits: ProcessLimits, *, sandboxed: bool
) -> RunFailure:
    tail = report.stderr[-2000:] or None
    setup = _sandbox_setup_error(report.stderr) if sandboxed else None
    if setup is not None:
        return RunFailure(
            "SandboxError",
            f"SandboxError: bubblewrap could not start the sandbox: {setup}; see "
            "docs/executor.md (isolation) or set execution.isolation to 'process'",
            tail,
        )
    if report.oom_killed:
        return RunFailure(
            "MemoryError",
            f"MemoryError: the code's processes together used more than "
            f"execution.memory_limit_mb={limits.memory_limit_mb} and the kernel killed them; "
            "use less memory or fewer processes",
            tail,
        )
    if session.protocol_problem is not None:
        return RunFailure(
            "ControlChannelError",
            f"ControlChannelError: the executor cut the control channel off "
            f"({session.protocol_problem}); use read_channel/write_channel only",
            tail,
        )
    number = _signal_number(report.returncode, sandboxed=sandboxed)
    if number is not None:
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = ""
        if number == signal.SIGKILL:
            hint = f" (out of memory? execution.memory_limit_mb={limits.memory_limit_mb})"
        return RunFailure(
            "ProcessKilled", f"ProcessKilled: the process was killed by {name}{hint}", tail
        )
    return RunFailure(
        "ProcessExited",
        f"ProcessExited: the process exited with code {report.returncode} before reporting "
        "results (os._exit or a crash of the interpreter?)",
        tail,
    )


def _signal_number(returncode: int | None, *, sandboxed: bool) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if sandboxed and 128 < returncode < 128 + 65:  # bubblewrap reports a signal as 128+N
        return returncode - 128
    return None


def _sandbox_setup_error(stderr: str) -> str | None:
    first = stderr.lstrip().splitlines()[0] if stderr.strip() else ""
    return first.removeprefix("bwrap: ") if first.startswith("bwrap: ") else None
