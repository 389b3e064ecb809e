"""``replaycodegen record``: run the service with the real generator, recording into a
cassette (``RecordingCodeGenerator(OpenAICodeGenerator(...), PATH, mode)``)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State, display_path, pass_state
from replaycodegen.cli.errors import RunFailed, UserError
from replaycodegen.cli.render import one_line

if TYPE_CHECKING:
    from replaycodegen.cli.service_loop import Outcome
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.models import PythonExecutionRequest

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
NO_KEY = (
    "no API key: set OPENAI_API_KEY to record (a local OpenAI-compatible server accepts any "
    "dummy value, e.g. OPENAI_API_KEY=dummy); nothing was recorded"
)


def _requests(query: str | None, objective: str | None, requests_file: str | None,
              request_json: str | None = None) -> list[PythonExecutionRequest]:
    from replaycodegen.cli.requests_file import read_request_json, read_requests
    from replaycodegen.models import PythonExecutionRequest

    given = [name for name, value in (("--query/--objective", query or objective),
                                      ("--requests", requests_file),
                                      ("--request", request_json)) if value is not None]
    if len(given) > 1:
        raise click.UsageError(f"give one of {', '.join(given)}, not several")
    if requests_file is not None:
        return read_requests(requests_file)
    if request_json is not None:
        return [read_request_json(request_json)]
    if query is None:
        raise click.UsageError("give --query (and --objective), --request JSON or --requests "
                               "FILE.yaml: the request to record (a cassette miss prints the "
                               "whole command)")
    return [PythonExecutionRequest(user_query=query, task_objective=objective or query,
                                   execution_folder_name="record-1")]


def _recorder(cassette: str, model: str | None, base_url: str | None, mode: str,
              description: str | None) -> RecordingCodeGenerator:
    from replaycodegen.errors import CodeGenerationError
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator
    from replaycodegen.generation.recording import RecordingCodeGenerator

    if not os.environ.get("OPENAI_API_KEY", "").strip():
        raise UserError(NO_KEY)
    try:
        generator = OpenAICodeGenerator(model, base_url=base_url)
    except CodeGenerationError as exc:
        raise UserError(f"{exc.message}; nothing was recorded") from None
    return RecordingCodeGenerator(generator, cassette, mode, description=description)


@click.command(short_help="Record a real model into a cassette.")
@click.option("--cassette", required=True, type=click.Path(dir_okay=False),
              help="The cassette to record into (created if missing).")
@click.option("--query", help="The user_query of a single request.")
@click.option("--objective", help="Its task_objective (default: the query).")
@click.option("--request", "request_json", metavar="JSON",
              help="One request as a JSON object of request fields (a cassette miss prints "
              "this when --query and --objective are not enough).")
@click.option("--requests", "requests_file", type=click.Path(exists=True, dir_okay=False),
              help="A YAML file of requests to record (a list of request mappings).")
@click.option("--model", help="Model name (default: $REPLAYCODEGEN_MODEL, else gpt-4o-mini).")
@click.option("--base-url", help="OpenAI-compatible server (default: $OPENAI_BASE_URL, else "
              "the OpenAI API).")
@click.option("--mode", type=click.Choice(RECORD_MODES), default="new_episodes",
              show_default=True, help="Record mode: what is replayed and what is recorded.")
@click.option("--description", help="The description of a new cassette: how it was made.")
@click.option("--retries", type=click.IntRange(1, 50), help="Attempts per request (default 3).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds each attempt may run (default 60).")
@click.option("--approve", is_flag=True,
              help="Approve control-system writes (else: prompt on a terminal, or skip).")
@click.option("--execution-root", type=click.Path(file_okay=False),
              help="Where each attempt's folder goes (default: a temp folder).")
@pass_state
def record(state: State, cassette: str, query: str | None, objective: str | None,
           request_json: str | None, requests_file: str | None, model: str | None,
           base_url: str | None, mode: str,
           description: str | None, retries: int | None, timeout: float | None,
           approve: bool, execution_root: str | None) -> None:
    """Record code generation into a cassette with a real OpenAI-compatible model.

    Runs the full service loop (generate, analyse, run, retry) for each request; every
    generator call that the cassette cannot answer is recorded (mode new_episodes).
    Needs OPENAI_API_KEY (exit 2 without it). Exit code 1 when a request did not end
    with results; what was recorded stays recorded.
    """
    import asyncio

    from replaycodegen.cli.service_loop import OK

    requests = _requests(query, objective, requests_file, request_json)
    if retries is not None:
        requests = [r.model_copy(update={"retries": retries}) for r in requests]
    recorder = _recorder(cassette, model, base_url, mode, description)
    out = state.out
    if len(requests) == 1:
        out.heading(f"recording into {display_path(cassette)} (mode {mode})")
        out.echo(f"query: {requests[0].user_query}")
    started = time.perf_counter()
    try:
        outcomes, calls = asyncio.run(
            _record_all(state, recorder, requests, service_config_for(timeout, execution_root),
                        approve)
        )
    finally:
        recorder.close()
    _summary(state, recorder, outcomes, calls, time.perf_counter() - started)
    failed = [(r, o) for r, o in outcomes if o.status != OK]
    if failed:
        first = failed[0][1]
        raise RunFailed(f"{len(failed)} of {len(outcomes)} request(s) did not finish "
                        f"({first.status}: {one_line(first.message, 200)})")


def service_config_for(timeout: float | None, execution_root: str | None
                       ) -> Callable[[int], dict[str, Any]]:
    """The service config of request ``n`` (its own thread id)."""
    from replaycodegen.cli.service_loop import service_config

    return lambda number: service_config(f"record-{number}", timeout, execution_root)


async def _record_all(state: State, recorder: RecordingCodeGenerator,
                      requests: list[PythonExecutionRequest],
                      config_for: Callable[[int], dict[str, Any]], approve: bool
                      ) -> tuple[list[tuple[PythonExecutionRequest, Outcome]], int]:
    """Every request through the service, in one event loop; a progress bar for several."""
    from replaycodegen.cli.service_loop import AttemptPrinter, ObservedGenerator, drive
    from replaycodegen.executor import PythonExecutorService

    outcomes: list[tuple[PythonExecutionRequest, Outcome]] = []
    calls = 0
    several = len(requests) > 1
    with click.progressbar(requests, label=f"recording {len(requests)} requests",
                           file=sys.stderr, hidden=not several) as bar:
        for number, request in enumerate(bar, 1):
            printer = AttemptPrinter(state.out, quiet=several)
            service = PythonExecutorService(ObservedGenerator(recorder, printer.on_code))
            config = config_for(number)
            outcomes.append((request, await drive(service, request, config, printer,
                                                  approve=approve)))
            calls += len(printer.attempts)
    return outcomes, calls


def _summary(state: State, recorder: RecordingCodeGenerator,
             outcomes: list[tuple[PythonExecutionRequest, Outcome]], calls: int,
             seconds: float) -> None:
    from replaycodegen.cli.service_loop import OK
    from replaycodegen.maintenance.ops import total_tokens

    out = state.out
    recorded = recorder.recorded
    ok = sum(1 for _, o in outcomes if o.status == OK)
    models = sorted({str(e.meta["model"]) for e in recorded if e.meta.get("model")})
    model_ms = sum(float(e.meta.get("latency_ms") or 0) for e in recorded)
    out.echo()
    total = len(recorder.cassette.entries)
    out.heading(f"recorded {_entries(len(recorded), 'new ')} into "
                f"{display_path(recorder.path)} (mode {recorder.record_mode.value}; "
                f"{_entries(total)} in all)")
    out.echo(f"  requests: {len(outcomes)} ({ok} ok); generator calls: {calls} "
             f"({len(recorded)} recorded, {calls - len(recorded)} replayed)")
    out.echo(f"  tokens: {total_tokens(recorded)}; models: {', '.join(models) or '-'}; "
             f"model time {model_ms / 1000:.2f} s; total time {seconds:.2f} s")
    for number, (request, outcome) in enumerate(outcomes, 1):
        if outcome.status != OK:
            out.echo(f"  request {number} ({one_line(request.user_query, 60)!r}): "
                     f"{outcome.status}: {one_line(outcome.message, 200)}")


def _entries(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}entr{'y' if count == 1 else 'ies'}"
