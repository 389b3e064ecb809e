"""Driving the executor service for ``run`` and ``record``: each attempt is shown as it
happens (code, findings, failure), approvals are given, prompted for or reported."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli import context
from replaycodegen.cli.render import Output, one_line

if TYPE_CHECKING:
    from replaycodegen.errors import ApprovalRequired, PythonExecutorError
    from replaycodegen.executor import PythonExecutorService, PythonServiceResult
    from replaycodegen.generation.protocol import CodeGenerator
    from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

TRACEBACK_TAIL_LINES = 6

OK = "ok"
FAILED = "failed"
NEEDS_APPROVAL = "needs approval"
MISS = "cassette miss"


@dataclass
class Outcome:
    """How one request ended."""

    status: str
    result: PythonServiceResult | None = None
    message: str = ""
    attempts: int = 0
    seconds: float = 0.0


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
        self.on_code(Attempt(len(chain) + 1, code, self.inner.get_generation_metadata()), chain)
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
    """Prints attempts as they happen; ``quiet`` collects them without printing."""

    def __init__(self, out: Output, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.attempts: list[Attempt] = []
        self._failures_shown = 0

    def on_code(self, attempt: Attempt, chain: list[Any]) -> None:
        self.attempts.append(attempt)
        self.show_failures(chain)
        if self.quiet:
            return
        self.out.echo()
        self.out.heading(f"--- attempt {attempt.number}: {describe_source(attempt.metadata)} ---")
        self.out.code(attempt.code)

    def show_failures(self, chain: Sequence[Any]) -> None:
        """Print the failures of ``chain`` not printed yet."""
        for item in chain[self._failures_shown:]:
            self._failures_shown += 1
            if not self.quiet:
                self._failure(item)

    def _failure(self, item: Any) -> None:
        from replaycodegen.models import ExecutionError, error_text

        out = self.out
        if isinstance(item, ExecutionError):
            label = f"attempt {item.attempt_number} failed ({item.stage or 'execution'}):"
            out.echo(out.style("FAILED", fg="red", bold=True) + f" {label} "
                     + one_line(error_text(item), 300))
            for issue in item.analysis_issues:
                out.echo(f"  finding: {issue}")
            if item.traceback:
                tail = item.traceback.rstrip().splitlines()[-TRACEBACK_TAIL_LINES:]
                for line in tail:
                    out.echo(out.dim(f"  | {line}"))
        else:
            out.echo(out.style("FAILED", fg="red", bold=True) + " " + one_line(str(item), 300))

    def approval_needed(self, exc: ApprovalRequired) -> None:
        out = self.out
        out.echo(out.style("APPROVAL NEEDED", fg="yellow", bold=True)
                 + f" before attempt {len(exc.error_chain) + 1} runs:")
        for reason in exc.reasons:
            out.echo(f"  - {reason}")

    def result(self, outcome: Outcome) -> None:
        result = outcome.result
        assert result is not None
        out = self.out
        self.show_failures(result.error_chain)
        failed = len(result.error_chain)
        after = f" after {failed} failed attempt{'s' if failed != 1 else ''}" if failed else ""
        out.echo()
        out.echo(out.style("OK", fg="green", bold=True)
                 + f" attempt {result.generation_attempt} succeeded{after}"
                 + f" ({outcome.seconds:.2f} s)")
        for warning in result.analysis_warnings:
            out.echo(f"  finding: {warning}")
        execution = result.execution_result
        out.echo("results:")
        text = json.dumps(execution.results, indent=2, ensure_ascii=False, default=str)
        for line in text.splitlines():
            out.echo(f"  {line}")
        if execution.stdout.strip():
            out.echo("stdout:")
            for line in execution.stdout.rstrip().splitlines():
                out.echo(f"  {line}")
        if execution.channel_writes:
            out.echo("control-system writes:")
            for write in execution.channel_writes:
                out.echo(f"  {write.channel}: {write.previous!r} -> {write.value!r}")
        if execution.refused_channel_writes:
            out.echo("refused control-system writes (not approved):")
            for refused in execution.refused_channel_writes:
                out.echo(f"  {refused.channel}: {refused.value!r}")
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
    terminal, or reported; failures and cassette misses become the outcome, not errors."""
    from replaycodegen.errors import ApprovalRequired, CassetteMiss, PythonExecutorError

    started = time.perf_counter()

    def outcome(status: str, **kwargs: Any) -> Outcome:
        return Outcome(status, attempts=len(printer.attempts),
                       seconds=time.perf_counter() - started, **kwargs)

    step: Callable[[], Awaitable[PythonServiceResult]] = functools.partial(
        service.ainvoke, request, config
    )
    while True:
        try:
            result = await step()
        except ApprovalRequired as exc:
            printer.show_failures(exc.error_chain)
            if not printer.quiet:
                printer.approval_needed(exc)
            decision = _decide(approve)
            if decision is None:
                return outcome(NEEDS_APPROVAL, message=(
                    f"attempt {len(exc.error_chain) + 1} writes to the control system and "
                    "needs approval; nothing was run. Re-run with --approve to approve it"))
            step = functools.partial(service.aresume, exc.thread_id, approved=decision)
            continue
        except CassetteMiss as exc:
            return outcome(MISS, message=str(exc))
        except PythonExecutorError as exc:
            printer.show_failures(exc.error_chain)
            return outcome(FAILED, message=_failure_message(exc))
        done = outcome(OK, result=result)
        if not printer.quiet:
            printer.result(done)
        return done


def _failure_message(exc: PythonExecutorError) -> str:
    from replaycodegen.errors import CodeRuntimeError, CodeSyntaxError
    from replaycodegen.models import ExecutionError, error_text

    chain = exc.error_chain
    if not isinstance(exc, CodeRuntimeError | CodeSyntaxError) or not chain:
        return exc.message
    last = chain[-1]
    stage = last.stage if isinstance(last, ExecutionError) else "execution"
    count = "the only attempt failed" if len(chain) == 1 else f"all {len(chain)} attempts failed"
    return f"{count}; the last ({stage}): {one_line(error_text(last), 300)}"


def _decide(approve: bool) -> bool | None:
    """True/False to resume with, or None when nobody can decide here."""
    if approve:
        return True
    if context.stdin_is_interactive():
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
