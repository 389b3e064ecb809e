"""``replaycodegen run``: the full service loop, offline, from a cassette."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State, display_path, load, pass_state
from replaycodegen.cli.errors import RunFailed, UserError, emit_json
from replaycodegen.cli.options import json_option
from replaycodegen.cli.render import printable

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cli.service_loop import Outcome

DEMO_CASSETTE = "demo/beam_statistics.yaml"
DEFAULT_QUERY = "Compute a value and return it in results"
RUN_FOLDER = "replaycodegen-run"


def demo_cassette_path() -> Path:
    """The shipped demo cassette (inside the wheel, or in a source checkout)."""
    from replaycodegen.cassette.behaviors import shipped_cassettes_dir

    return shipped_cassettes_dir() / DEMO_CASSETTE


@contextlib.contextmanager
def offline_guard(cassette_path: str) -> Iterator[bool]:
    """Block live calls while replaying; yields whether vcrpy's HTTP layer is available
    (without it the socket layer alone guards)."""
    from replaycodegen.guard import block_live_llm_calls, vcr_installed

    with block_live_llm_calls(cassette_path, "none"):
        yield vcr_installed()


def _source(behavior: str | None, cassette: str | None) -> tuple[Cassette, str, str]:
    """The cassette to replay, its display name, and the path the guard reports."""
    from replaycodegen.cassette.behaviors import BEHAVIORS, load_behavior

    if behavior is not None:
        if behavior not in BEHAVIORS:
            raise UserError(f"unknown behaviour {behavior!r}; use one of: {', '.join(BEHAVIORS)}"
                            " (`replaycodegen behaviors` describes them)")
        return load_behavior(behavior), f"behaviour {behavior}", f"behavior:{behavior}"
    if cassette is not None:
        return load(cassette), display_path(cassette), cassette
    demo = demo_cassette_path()
    return load(demo), f"{display_path(demo)} (the shipped demo)", str(demo)


def _request_data(cassette: Cassette, entry: str | None, query: str | None,
                  objective: str | None) -> dict[str, Any]:
    """``--query Q [--objective O]`` alone (exactly what ``record --query Q`` records: the
    objective defaults to the query), else the request of ``--entry`` or of the cassette's
    first entry."""
    from replaycodegen.cli.requests_file import request_from_options, with_default_objective
    from replaycodegen.maintenance.entries import example_request_fields

    if query is not None:
        return request_from_options(query, objective)
    fields = example_request_fields(cassette, entry)
    fields.setdefault("user_query", fields.get("task_objective", DEFAULT_QUERY))
    return with_default_objective(fields)


@click.command(short_help="Replay a cassette through the service loop.")
@click.option("--behavior", metavar="NAME", help="Replay a shipped behaviour (see `behaviors`).")
@click.option("--cassette", type=click.Path(dir_okay=False), help="Replay this cassette.")
@click.option("--entry", metavar="ID", help="Take the request from this entry of the cassette.")
@click.option("--query", help="The user_query of the request to replay (default: the "
              "cassette's first request).")
@click.option("--objective", help="Its task_objective (needs --query; default: the query, "
              "as `record` records it).")
@click.option("--retries", type=click.IntRange(1, 50), help="Attempts allowed (default 3).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds each attempt may run (default 60).")
@click.option("--approve", is_flag=True,
              help="Approve control-system writes (else: prompt on a terminal, or exit 1).")
@click.option("--execution-root", type=click.Path(file_okay=False),
              help="Where each attempt's folder goes (default: a temp folder).")
@click.option("--isolation", type=click.Choice(["auto", "sandbox", "process"]),
              help="How the code is isolated (default auto: the sandbox when bubblewrap "
                   "works here; sandbox: refuse without it; process: none).")
@json_option
@pass_state
def run(state: State, behavior: str | None, cassette: str | None, entry: str | None,
        query: str | None, objective: str | None, retries: int | None, timeout: float | None,
        approve: bool, execution_root: str | None, isolation: str | None,
        as_json: bool) -> None:
    """Run the service loop offline, answered by a cassette.

    Without options it replays the shipped demo cassette: the first attempt fails, the
    retry fixes it. Each attempt's code, analysis findings and error are printed, then
    the results. No API key and no network are used: a live HTTP call is blocked.
    On a terminal, an attempt that runs for a while shows a spinner with its time limit.
    Exit code 1 when the run fails (every attempt failed, a cassette miss, or an approval
    that was not given or refused). With --json nothing is asked: give --approve.
    """
    import asyncio

    from pydantic import ValidationError

    from replaycodegen.cli.service_loop import (
        AttemptPrinter,
        ObservedGenerator,
        drive,
        service_config,
    )
    from replaycodegen.executor import PythonExecutorService
    from replaycodegen.generation.mock import MockCodeGenerator
    from replaycodegen.models import PythonExecutionRequest

    if behavior is not None and cassette is not None:
        raise click.UsageError("give --behavior or --cassette, not both")
    if behavior is not None and entry is not None:
        raise click.UsageError("--entry needs --cassette (behaviours answer any request)")
    if entry is not None and query is not None:
        raise click.UsageError("give --entry or --query, not both")
    if objective is not None and query is None:
        raise click.UsageError("--objective needs --query (the objective defaults to the query)")
    replayed, name, guard_path = _source(behavior, cassette)
    data = _request_data(replayed, entry, query, objective)
    data["execution_folder_name"] = RUN_FOLDER
    if retries is not None:
        data["retries"] = retries
    try:
        request = PythonExecutionRequest(**data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise UserError(f"{name}: the request to replay is invalid: {field}: {problem['msg']}; "
                        "fix: give --query and --objective") from None

    out = state.out
    if not as_json:
        out.heading(f"replaying {name}")
        for line in (replayed.description or "").strip().splitlines():
            out.echo(out.dim(f"  {printable(line)}"))
        out.echo(f"query:     {printable(request.user_query)}")
        if request.task_objective != request.user_query:
            out.echo(f"objective: {printable(request.task_objective)}")

    printer = AttemptPrinter(out, quiet=as_json)
    generator = ObservedGenerator(MockCodeGenerator(cassette=replayed), printer.on_code)
    service = PythonExecutorService(generator)
    with offline_guard(guard_path) as with_vcr:
        if not with_vcr and not as_json:
            out.echo(out.dim("(vcrpy is not installed: live calls are blocked at the socket "
                             "level only)"))
        config = service_config("run", timeout, execution_root, isolation)
        outcome = asyncio.run(drive(service, request, config, printer, approve=approve))
    error = run_error(outcome)
    if as_json:
        from replaycodegen.cli.service_loop import outcome_data

        emit_json({"source": name, "cassette": cassette, "behavior": behavior,
                   "request": request.model_dump(mode="json", exclude={"execution_folder_name"}),
                   "offline_guard": True, **outcome_data(outcome, printer.attempts)}, error)
        return
    if error is not None:
        raise error


def run_error(outcome: Outcome) -> RunFailed | None:
    """How a run that did not end with results fails, with the fix that fits: a longer
    --timeout after a timeout, --approve after a refusal, more attempts otherwise."""
    from replaycodegen.cli.service_loop import FAILED, MISS, NEEDS_APPROVAL, OK, REFUSED

    if outcome.status == OK:
        return None
    if outcome.status == FAILED:
        if outcome.timed_out:
            limit = f"{outcome.timeout_seconds:g} s" if outcome.timeout_seconds else "the limit"
            fix = (f"give each attempt more time with --timeout S (now {limit}), or make the "
                   "code faster (`replaycodegen edit`)")
        else:
            fix = ("allow more attempts with --retries N, or correct the cassette's code "
                   "(`replaycodegen show`, `replaycodegen edit`)")
        return RunFailed(f"the run failed: {outcome.message}; fix: {fix}")
    if outcome.status == REFUSED:
        return RunFailed(f"refused: {outcome.message}; fix: re-run and approve it (answer y, "
                         "or pass --approve) if the write is wanted; otherwise change the "
                         "cassette's code (`replaycodegen edit`)")
    if outcome.status in (MISS, NEEDS_APPROVAL):
        return RunFailed(f"{outcome.status}: {outcome.message}")
    return RunFailed(f"{outcome.status}: {outcome.message}")
