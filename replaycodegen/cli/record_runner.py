"""Running requests through the service for ``record``: several at once (``--jobs``), a
progress bar (done / total, calls, tokens, retries), and a clean stop on Ctrl-C.

The first Ctrl-C (or SIGTERM) stops new live calls and new requests; calls in flight
finish and are recorded, so nothing paid for is lost. A second one abandons them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from replaycodegen.cli.service_loop import Attempt, Outcome
    from replaycodegen.generation.call_gate import CallGate
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.models import PythonExecutionRequest

BUDGET = "budget used up"
INTERRUPTED = "interrupted"
NOT_STARTED = "not started"


@dataclass
class Job:
    """One request to run, and the recorder (cassette) it records into."""

    number: int
    request: PythonExecutionRequest
    recorder: RecordingCodeGenerator


@dataclass
class JobResult:
    job: Job
    outcome: Outcome
    recorded: int = 0
    """Attempts recorded now (live calls that landed)."""
    replayed: int = 0
    attempts: list[Attempt] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """The request's story for ``--json`` (``recorded`` + ``replayed`` generator calls)."""
        from replaycodegen.cli.service_loop import outcome_data

        return {"number": self.job.number, "user_query": self.job.request.user_query,
                "recorded": self.recorded, "replayed": self.replayed,
                **outcome_data(self.outcome, self.attempts)}


@dataclass
class RunResult:
    results: list[JobResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def calls(self) -> int:
        return sum(r.recorded + r.replayed for r in self.results)


def _stats(gate: CallGate) -> str:
    return f"calls {gate.calls} · tokens {gate.tokens} · retries {gate.retries}"


@contextlib.contextmanager
def _on_interrupt(handler: Callable[[], None]) -> Iterator[None]:
    """Call ``handler`` on SIGINT and SIGTERM while the block runs (main thread only)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, Windows
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_jobs(state: State, jobs: list[Job], *, gate: CallGate,
                   config_for: Callable[[int], dict[str, Any]], approve: bool,
                   concurrency: int = 1, label: str | None = None) -> RunResult:
    """Run every job (``concurrency`` at a time); failures become outcomes, not errors."""
    from replaycodegen.cli.service_loop import AttemptPrinter, ObservedGenerator, Outcome, drive
    from replaycodegen.executor import PythonExecutorService
    from replaycodegen.generation.budget import BudgetExceeded
    from replaycodegen.generation.call_gate import RecordingStopped

    run = RunResult()
    several = len(jobs) > 1
    queue = deque(jobs)
    tasks: list[asyncio.Task[None]] = []
    out = state.out

    def interrupt() -> None:
        if not run.interrupted:
            run.interrupted = True
            gate.stop()
            out.warning(f"interrupted: finishing the {plural(gate.in_flight, 'call')} in flight "
                        "so they are recorded; press Ctrl-C again to abandon them")
        else:
            for task in tasks:
                task.cancel()

    progress: ProgressBar[int] = click.progressbar(
        length=len(jobs), label=label or f"recording {plural(len(jobs), 'request')}",
        file=sys.stderr,
        hidden=not several, show_pos=True, show_percent=False,
        item_show_func=lambda _: _stats(gate))
    with progress as bar:
        gate.on_change = lambda: bar.update(0)

        async def one(job: Job) -> JobResult:
            printer = AttemptPrinter(out, quiet=several or state.as_json)
            service = PythonExecutorService(ObservedGenerator(job.recorder, printer.on_code))
            try:
                outcome = await drive(service, job.request, config_for(job.number), printer,
                                      approve=approve)
            except BudgetExceeded as exc:
                outcome = Outcome(BUDGET, message=f"{exc.refused} was not recorded (no live call "
                                  "made)", attempts=len(printer.attempts))
            except RecordingStopped as exc:
                outcome = Outcome(INTERRUPTED, message=str(exc), attempts=len(printer.attempts))
            live = sum(1 for a in printer.attempts if a.metadata.get("recorded"))
            return JobResult(job, outcome, live, len(printer.attempts) - live, printer.attempts)

        async def worker() -> None:
            while queue and not run.interrupted:
                job = queue.popleft()
                run.results.append(await one(job))
                bar.update(1)

        with _on_interrupt(interrupt):
            tasks.extend(asyncio.create_task(worker()) for _ in range(max(1, concurrency)))
            try:
                await asyncio.gather(*tasks)
            finally:
                gate.on_change = None
    for job in queue:  # never started (interrupted)
        run.results.append(JobResult(job, Outcome(NOT_STARTED, message="interrupted before "
                                                  "it started")))
    run.results.sort(key=lambda r: r.job.number)
    return run
