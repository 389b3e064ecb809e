"""Driving the executor service for ``run`` and ``record``: each attempt is shown as it
happens (code, findings, failure, a spinner while it runs on a terminal), approvals are
given, prompted for or reported; ``attempts_data`` is the same story for ``--json``."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli import context
from replaycodegen.cli.render import Output, one_line, printable
from replaycodegen.cli.spinner import Spinner
from replaycodegen.errors import ReplayCodegenError
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.errors import ApprovalRequired, PythonExecutorError
    from replaycodegen.executor import PythonExecutorService, PythonServiceResult
    from replaycodegen.generation.protocol import CodeGenerator
    from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

TRACEBACK_TAIL_LINES = 6

OK = "ok"
FAILED = "failed"
NEEDS_APPROVAL = "needs approval"
REFUSED = "refused"
MISS = "cassette miss"

TIMEOUT_ERROR = "TimeoutError"


class OutputClosed(ReplayCodegenError):
    """stdout's reader went away while an attempt was printed (``run | head``). A
    ``ReplayCodegenError``, so the service passes it on instead of calling it a failed
    generation; the command line ends quietly on it."""


@dataclass
class Outcome:
    """How one request ended: ``chain`` is the failures on the way, ``approvals`` who
    approved which attempt (``"--approve"`` or ``"prompt"``)."""

    status: str
    result: PythonServiceResult | None = None
    message: str = ""
    attempts: int = 0
    seconds: float = 0.0
    chain: list[Any] = field(default_factory=list)
    approvals: list[tuple[int, str]] = field(default_factory=list)
    timeout_seconds: float | None = None

    @property
    def timed_out(self) -> bool:
        """The last attempt was killed by the timeout."""
        return bool(self.chain) and getattr(self.chain[-1], "error_type", "") == TIMEOUT_ERROR


@dataclass
class Attempt:
    """One piece of code the generator handed to the service."""

    number: int
    code: str
    metadata: dict[str, Any]


class ObservedGenerator:
    """A ``CodeGenerator`` that reports every code it hands out, then passes it on."""

    def __init__(self, inner: CodeGenerator, on_code: Callable[[Attempt, list[Any]], None]
                 ) -> None:
        self.inner = inner
        self.on_code = on_code

    async def generate_code(self, request: PythonExecutionRequest,
                            error_chain: Sequence[ErrorChainItem]) -> str:
        chain = list(error_chain)
        code = await self.inner.generate_code(request, chain)
        try:
            self.on_code(Attempt(len(chain) + 1, code, self.inner.get_generation_metadata()),
                         chain)
        except BrokenPipeError as exc:
            raise OutputClosed("stdout was closed") from exc
        return code

    def get_generation_metadata(self) -> dict[str, Any]:
        return self.inner.get_generation_metadata()


def describe_source(metadata: dict[str, Any]) -> str:
    """Where an attempt's code came from, in a few words."""
    entry = metadata.get("entry_id")
    if "recorded" in metadata:  # RecordingCodeGenerator
        if metadata["recorded"]:
            return f"recorded now as entry {entry}"
        return f"replayed entry {entry}"
    if entry:
        repeat = ", repeated" if metadata.get("repeated") else ""
        return f"entry {entry}{repeat}"
    return str(metadata.get("generator") or "generator")


class AttemptPrinter:
    """Prints attempts as they happen; ``quiet`` collects them without printing. While an
    attempt runs, a spinner on stderr says so (on a terminal, after half a second)."""

    def __init__(self, out: Output, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.attempts: list[Attempt] = []
        self.timeout_seconds: float | None = None
        self._failures_shown = 0
        self._spinner = Spinner()

    def on_code(self, attempt: Attempt, chain: list[Any]) -> None:
        self.done()
        self.attempts.append(attempt)
        self.show_failures(chain)
        if self.quiet:
            return
        self.out.echo()
        self.out.heading(f"--- attempt {attempt.number}: {describe_source(attempt.metadata)} ---")
        self.out.code(attempt.code)
        self._running(attempt.number)

    def _running(self, number: int) -> None:
        limit = self.timeout_seconds

        def label(seconds: float) -> str:
            bound = f" (killed at {limit:g} s; --timeout S)" if limit is not None else ""
            return f"attempt {number} running for {seconds:.0f} s{bound}"

        self.out.live = self._spinner
        self._spinner.start(label)

    def done(self) -> None:
        """The attempt running is over: the spinner goes."""
        self._spinner.stop()

    def show_failures(self, chain: Sequence[Any]) -> None:
        """Print the failures of ``chain`` not printed yet."""
        self.done()
        for item in chain[self._failures_shown:]:
            self._failures_shown += 1
            if not self.quiet:
                self._failure(item)

    def _failure(self, item: Any) -> None:
        from replaycodegen.models import ExecutionError

        out = self.out
        if isinstance(item, ExecutionError):
            label = f"attempt {item.attempt_number} failed ({item.stage or 'execution'}):"
            out.echo(out.style("FAILED", fg="red", bold=True) + f" {label} "
                     + printable(one_line(cli_error_text(item), 300)))
            for issue in item.analysis_issues:
                out.echo(f"  finding: {printable(issue)}")
            if item.traceback:
                tail = item.traceback.rstrip().splitlines()[-TRACEBACK_TAIL_LINES:]
                for line in tail:
                    out.echo(out.dim(f"  | {printable(line)}"))
        else:
            out.echo(out.style("FAILED", fg="red", bold=True) + " "
                     + printable(one_line(str(item), 300)))

    def approval_needed(self, exc: ApprovalRequired) -> None:
        self.done()
        out = self.out
        out.echo(out.style("APPROVAL NEEDED", fg="yellow", bold=True)
                 + f" before attempt {len(exc.error_chain) + 1} runs:")
        for reason in exc.reasons:
            out.echo(f"  - {printable(reason)}")

    def approved(self, attempt: int, by: str) -> None:
        how = "with --approve" if by == APPROVED_BY_OPTION else "at the prompt"
        self.out.echo(self.out.style("APPROVED", fg="green", bold=True)
                      + f" {how}: attempt {attempt} runs, control-system writes included")

    def result(self, outcome: Outcome) -> None:
        result = outcome.result
        assert result is not None
        out = self.out
        self.show_failures(result.error_chain)
        failed = len(result.error_chain)
        after = f" after {plural(failed, 'failed attempt')}" if failed else ""
        out.echo()
        out.echo(out.style("OK", fg="green", bold=True)
                 + f" attempt {result.generation_attempt} succeeded{after}"
                 + f" ({outcome.seconds:.2f} s)")
        for warning in result.analysis_warnings:
            out.echo(f"  finding: {printable(warning)}")
        execution = result.execution_result
        out.echo("results:")
        text = json.dumps(execution.results, indent=2, ensure_ascii=False, default=str)
        for line in text.splitlines():
            out.echo(f"  {printable(line)}")
        if execution.stdout.strip():
            out.echo("stdout:")
            for line in execution.stdout.rstrip().splitlines():
                out.echo(f"  {printable(line)}")
        if execution.channel_writes:
            out.echo("control-system writes:")
            for write in execution.channel_writes:
                out.echo(f"  {write.channel}: {write.previous!r} -> {write.value!r}")
        if execution.refused_channel_writes:
            out.echo("refused control-system writes (not approved):")
            for refused in execution.refused_channel_writes:  # any name the code chose
                out.echo(f"  {printable(refused.channel)}: {refused.value!r}")
        if execution.figure_paths:
            out.echo(f"figures ({len(execution.figure_paths)}):")
            for figure in execution.figure_paths:
                out.echo(f"  {figure}")
        if execution.notebook_path is not None:
            out.echo(f"notebook: {execution.notebook_path}")
        out.echo(out.dim(f"files: {execution.folder_path}"))


async def drive(
    service: PythonExecutorService,
    request: PythonExecutionRequest,
    config: dict[str, Any],
    printer: AttemptPrinter,
    *,
    approve: bool,
) -> Outcome:
    """Run one request to an outcome: approvals given (``approve``), prompted for on a
    terminal (not when ``printer`` is quiet), or reported; failures, refusals and cassette
    misses become the outcome, not errors."""
    from replaycodegen.errors import (
        ApprovalRejected,
        ApprovalRequired,
        CassetteMiss,
        PythonExecutorError,
    )

    started = time.perf_counter()
    approvals: list[tuple[int, str]] = []
    printer.timeout_seconds = timeout_of(config)

    def outcome(status: str, chain: Sequence[Any] = (), **kwargs: Any) -> Outcome:
        return Outcome(status, attempts=len(printer.attempts),
                       seconds=time.perf_counter() - started, chain=list(chain),
                       approvals=list(approvals), timeout_seconds=printer.timeout_seconds,
                       **kwargs)

    step: Callable[[], Awaitable[PythonServiceResult]] = functools.partial(
        service.ainvoke, request, config
    )
    try:
        while True:
            try:
                result = await step()
            except ApprovalRequired as exc:
                printer.show_failures(exc.error_chain)
                attempt = len(exc.error_chain) + 1
                if not printer.quiet:
                    printer.approval_needed(exc)
                decision = _decide(approve, ask=not printer.quiet)
                if decision is None:
                    return outcome(NEEDS_APPROVAL, exc.error_chain, message=(
                        f"attempt {attempt} writes to the control system and needs approval; "
                        "nothing was run. Re-run with --approve to approve it"))
                if decision:
                    by = APPROVED_BY_OPTION if approve else APPROVED_AT_PROMPT
                    approvals.append((attempt, by))
                    if not printer.quiet:
                        printer.approved(attempt, by)
                step = functools.partial(service.aresume, exc.thread_id, approved=decision)
                continue
            except ApprovalRejected as exc:
                return outcome(REFUSED, exc.error_chain, message=(
                    f"you refused the code of attempt {len(exc.error_chain) + 1} at the prompt, "
                    "so it was not run (nor retried)"))
            except CassetteMiss as exc:
                return outcome(MISS, message=str(exc))
            except PythonExecutorError as exc:
                printer.show_failures(exc.error_chain)
                return outcome(FAILED, exc.error_chain, message=_failure_message(exc))
            done = outcome(OK, result.error_chain, result=result)
            if not printer.quiet:
                printer.result(done)
            return done
    finally:
        printer.done()


APPROVED_BY_OPTION = "--approve"
APPROVED_AT_PROMPT = "prompt"


def timeout_of(config: dict[str, Any]) -> float:
    """The seconds each attempt may run under ``config`` (the executor's default if unset)."""
    from replaycodegen.executor.config import DEFAULT_TIMEOUT_SECONDS

    execution = config.get("configurable", {}).get("execution", {})
    return float(execution.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))


def _failure_message(exc: PythonExecutorError) -> str:
    from replaycodegen.errors import CodeRuntimeError, CodeSyntaxError
    from replaycodegen.models import ExecutionError

    chain = exc.error_chain
    if not isinstance(exc, CodeRuntimeError | CodeSyntaxError) or not chain:
        return exc.message
    last = chain[-1]
    stage = last.stage if isinstance(last, ExecutionError) else "execution"
    count = ("the only attempt failed" if len(chain) == 1
             else f"all {plural(len(chain), 'attempt')} failed")
    return f"{count}; the last ({stage}): {one_line(cli_error_text(last), 300)}"


def cli_error_text(item: Any) -> str:
    """A failure's text, with the executor's setting named as the command line's option
    (``execution.timeout_seconds`` is ``--timeout`` here)."""
    from replaycodegen.models import error_text

    text = error_text(item)
    if getattr(item, "error_type", "") == TIMEOUT_ERROR:
        text = text.replace("execution.timeout_seconds", "--timeout S")
    return text


def _decide(approve: bool, *, ask: bool = True) -> bool | None:
    """True/False to resume with, or None when nobody can decide here."""
    if approve:
        return True
    if ask and context.stdin_is_interactive():
        return click.confirm("Approve and run this code?", default=False, err=True)
    return None


def service_config(thread_id: str, timeout: float | None,
                   execution_root: str | None = None,
                   isolation: str | None = None) -> dict[str, Any]:
    """The executor config the commands use (approval for control-system writes)."""
    execution: dict[str, Any] = {}
    if timeout is not None:
        execution["timeout_seconds"] = timeout
    if execution_root is not None:
        execution["execution_root"] = execution_root
    if isolation is not None:
        execution["isolation"] = isolation
    return {
        "thread_id": thread_id,
        "configurable": {"execution": execution, "approval": {"mode": "control_writes"}},
    }


# -- the same story as data (--json) ----------------------------------------------------------


def failure_data(item: Any) -> dict[str, Any]:
    """One failed attempt's error: type, stage, message, findings, traceback."""
    from replaycodegen.models import ExecutionError, error_text

    if not isinstance(item, ExecutionError):
        return {"type": None, "stage": None, "message": str(item), "findings": [],
                "traceback": None}
    return {"type": item.error_type, "stage": item.stage or "execution",
            "message": error_text(item), "findings": list(item.analysis_issues),
            "traceback": item.traceback}


def result_data(result: PythonServiceResult) -> dict[str, Any]:
    """What the attempt that succeeded produced."""
    execution = result.execution_result
    return {
        "attempt": result.generation_attempt,
        "results": execution.results,
        "stdout": execution.stdout,
        "findings": list(result.analysis_warnings),
        "channel_writes": [{"channel": w.channel, "previous": w.previous, "value": w.value}
                           for w in execution.channel_writes],
        "refused_channel_writes": [{"channel": w.channel, "value": w.value}
                                   for w in execution.refused_channel_writes],
        "figures": [str(p) for p in execution.figure_paths],
        "notebook": str(execution.notebook_path) if execution.notebook_path else None,
        "folder": str(execution.folder_path),
    }


def outcome_data(outcome: Outcome, attempts: Sequence[Attempt]) -> dict[str, Any]:
    """One request's outcome for ``--json``: every attempt with its code and, when it
    failed, its error (``chain[i]`` is the failure of attempt ``i + 1``)."""
    chain = outcome.chain
    return {
        "status": outcome.status,
        "message": outcome.message or None,
        "attempts": [
            {"number": attempt.number, "source": describe_source(attempt.metadata),
             "entry_id": attempt.metadata.get("entry_id"), "code": attempt.code,
             "failure": failure_data(chain[i]) if i < len(chain) else None}
            for i, attempt in enumerate(attempts)
        ],
        "approvals": [{"attempt": attempt, "by": by} for attempt, by in outcome.approvals],
        "result": result_data(outcome.result) if outcome.result is not None else None,
        "timeout_seconds": outcome.timeout_seconds,
        "seconds": round(outcome.seconds, 3),
    }
