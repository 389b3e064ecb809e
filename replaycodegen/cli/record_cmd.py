"""``replaycodegen record``: run the service with the real generator, recording into a
cassette (``RecordingCodeGenerator(OpenAICodeGenerator(...), PATH, mode)``).

Three ways in: new requests (``--cassette PATH --query/--requests``, optionally many at
once with ``--jobs``/``--rpm``), a scoped re-record of existing entries (``PATHS --stale`` /
``--entry ID``), or the misses of a ledger (``--from-ledger``). The first two take a budget
(``--max-calls``, ``--max-tokens``); all take ``--dry-run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State, display_path, pass_state
from replaycodegen.cli.errors import RunFailed, emit_json
from replaycodegen.cli.options import json_option
from replaycodegen.cli.record_setup import (
    EXIT_INTERRUPTED,
    Settings,
    call_gate,
    finish,
    make_recorder,
    service_config_for,
    show_unfinished,
)
from replaycodegen.cli.status_cmd import freshness_options
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.cli.record_runner import Job, RunResult
    from replaycodegen.generation.call_gate import CallGate
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.models import PythonExecutionRequest

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite", "stale")
DEFAULT_MODE = "new_episodes"
"""``record``'s mode: you ran it to record, into a file that may hold entries already."""


def _requests(query: str | None, objective: str | None, requests_file: str | None,
              request_json: str | None = None) -> list[PythonExecutionRequest]:
    from replaycodegen.cli.requests_file import (
        read_request_json,
        read_requests,
        request_from_options,
    )
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
    return [PythonExecutionRequest(**request_from_options(query, objective),
                                   execution_folder_name="record-1")]


@click.command(short_help="Record a real model into a cassette.")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--cassette", type=click.Path(dir_okay=False),
              help="The cassette to record into (created if missing).")
@click.option("--from-ledger", "ledgers", multiple=True, type=click.Path(),
              help="Record exactly the misses of this ledger (pytest --codegen-ledger), each "
              "into its own cassette; files, folders, globs; repeat for several shards.")
@click.option("--query", help="The user_query of a single request.")
@click.option("--objective", help="Its task_objective (default: the query).")
@click.option("--request", "request_json", metavar="JSON",
              help="One request as a JSON object of request fields (a cassette miss prints "
              "this when --query and --objective are not enough).")
@click.option("--requests", "requests_file", type=click.Path(exists=True, dir_okay=False),
              help="A YAML file of requests to record (a list of request mappings; "
              "task_objective defaults to user_query).")
@click.option("--stale", is_flag=True, help="Re-record, in place, the entries of PATHS that "
              "`replaycodegen status` calls stale; every other entry stays as it is.")
@click.option("--entry", "entry_ids", multiple=True, metavar="ID",
              help="Re-record this entry of PATHS (repeatable).")
@click.option("--summary-md", type=click.Path(dir_okay=False),
              help="With --stale/--entry: write the per-entry summary as Markdown to this file.")
@freshness_options
@click.option("--base-url", help="OpenAI-compatible server (default: $OPENAI_BASE_URL, else "
              "the OpenAI API).")
@click.option("--mode", type=click.Choice(RECORD_MODES), default=DEFAULT_MODE,
              show_default=True, help="Record mode: what is replayed and what is recorded. "
              "The default, new_episodes, replays what is there and records the rest, so "
              "re-running the same command resumes (the library's default is once, the "
              "pytest plugin's none).")
@click.option("--description", help="The description of a new cassette: how it was made.")
@click.option("--max-calls", type=click.IntRange(min=0), metavar="N",
              help="Make at most N live calls; the rest is reported as not recorded.")
@click.option("--max-tokens", type=click.IntRange(min=0), metavar="N",
              help="Start no live call once N tokens are used (checked before each call).")
@click.option("--dry-run", is_flag=True,
              help="List the requests that would call the model; call and write nothing.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Requests recorded at the same time (concurrent calls at most).")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True), metavar="R",
              help="Start at most R calls per minute.")
@click.option("--max-retries", type=click.IntRange(0, 20), metavar="N",
              help="The openai SDK's retries of 429/5xx answers per call (default 2).")
@click.option("--retries", type=click.IntRange(1, 50), help="Attempts per request (default 3).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds each attempt may run (default 60).")
@click.option("--approve", is_flag=True,
              help="Approve control-system writes (else: prompt on a terminal, or skip).")
@click.option("--execution-root", type=click.Path(file_okay=False),
              help="Where each attempt's folder goes (default: a temp folder).")
@json_option
@pass_state
def record(state: State, paths: tuple[str, ...], cassette: str | None,
           ledgers: tuple[str, ...], query: str | None,
           objective: str | None, request_json: str | None, requests_file: str | None,
           stale: bool,
           entry_ids: tuple[str, ...], summary_md: str | None, prompt_builder: str | None,
           model: str | None, max_age: str | None, base_url: str | None, mode: str,
           description: str | None, max_calls: int | None, max_tokens: int | None,
           dry_run: bool, jobs: int, rpm: float | None, max_retries: int | None,
           retries: int | None, timeout: float | None, approve: bool,
           execution_root: str | None, as_json: bool) -> None:
    """Record code generation into a cassette with a real OpenAI-compatible model.

    \b
    New requests:  record --cassette PATH (--query TEXT | --requests FILE.yaml)
    Re-record:     record PATHS... --stale   (or --entry ID, repeatable)
    CI misses:     record --from-ledger LEDGER

    Runs the full service loop (generate, analyse, run, retry) for each request; every
    generator call that the cassette cannot answer is recorded (default mode
    new_episodes). A re-run replays what is recorded and records only what is missing.
    Needs OPENAI_API_KEY
    (exit 2 without it). Exit code 1 when a request did not end with results or the budget
    stopped it; what was recorded stays recorded. Ctrl-C: 130, after the calls in flight land.
    """
    from replaycodegen.generation.budget import RecordingBudget
    from replaycodegen.lifecycle.freshness.project_settings import find_project_settings

    if ledgers:
        from replaycodegen.cli.ledger_record_cmd import record_from_ledger

        return record_from_ledger(state, ledgers, model=model, base_url=base_url,
                                  dry_run=dry_run)
    settings = Settings(model, base_url, prompt_builder, max_age, max_calls, max_tokens,
                        max_retries, dry_run, jobs, rpm)
    project = find_project_settings()
    budget = RecordingBudget(max_calls, max_tokens)
    scoped = stale or bool(entry_ids) or (
        mode == "stale" and query is None and requests_file is None and request_json is None)
    config_for = service_config_for(timeout, execution_root)
    if scoped:
        from replaycodegen.cli.rerecord_cmd import rerecord

        targets = [*paths, *([cassette] if cassette else [])]
        if query is not None or requests_file is not None:
            raise click.UsageError("--stale/--entry re-record existing entries: give PATHS, not "
                               "--query or --requests")
        if not targets:
            raise click.UsageError("give the cassettes to re-record: record PATHS... --stale")
        rerecord(state, targets, stale=stale or not entry_ids, entry_ids=list(entry_ids),
                 summary_md=summary_md, settings=settings, project=project, budget=budget,
                 make_gate=lambda: call_gate(settings, project), make_recorder=make_recorder,
                 config_for=config_for, retries=retries, approve=approve)
        return
    if paths:
        raise click.UsageError("PATHS go with --stale or --entry; to record new requests give "
                               "--cassette PATH with --query or --requests")
    if cassette is None:
        raise click.UsageError("give --cassette PATH (the cassette to record into), or "
                               "--from-ledger LEDGER")
    if summary_md is not None:
        raise click.UsageError("--summary-md goes with --stale or --entry")
    requests = _requests(query, objective, requests_file, request_json)
    if retries is not None:
        requests = [r.model_copy(update={"retries": retries}) for r in requests]
    gate = call_gate(settings, project)
    recorder = make_recorder(gate, cassette, mode, description=description, budget=budget,
                         settings=settings, project=project)
    _record_new(state, recorder, gate, requests, config_for, approve, jobs)


def _record_new(state: State, recorder: RecordingCodeGenerator, gate: CallGate,
                requests: list[PythonExecutionRequest],
                config_for: Callable[[int], dict[str, Any]], approve: bool, jobs: int) -> None:
    import asyncio

    from replaycodegen.cli.record_runner import run_jobs

    out = state.out
    mode = recorder.record_mode.value
    if len(requests) == 1 and not state.as_json:
        out.heading(f"recording into {display_path(recorder.path)} (mode {mode})"
                    + (" - dry run" if recorder.dry_run else ""))
        out.echo(f"query: {requests[0].user_query}")
    started = time.perf_counter()
    work = _unique_jobs(state, recorder, requests)
    try:
        run = asyncio.run(run_jobs(state, work, gate=gate, config_for=config_for,
                                   approve=approve, concurrency=jobs))
    finally:
        recorder.close()
    if recorder.dry_run:
        _dry_run_report(state, recorder)
        return
    summary = summary_data(recorder, gate, run, time.perf_counter() - started)
    if state.as_json:
        try:
            finish(run, recorder.budget)
        except RunFailed as exc:
            emit_json(summary, exc)
        except click.exceptions.Exit:
            emit_json(summary, RunFailed("interrupted: re-run the same command to record the "
                                         "rest", exit_code=EXIT_INTERRUPTED))
        emit_json(summary)
        return
    _summary(state, summary, run, recorder)
    finish(run, recorder.budget)


def _unique_jobs(state: State, recorder: RecordingCodeGenerator,
                 requests: list[PythonExecutionRequest]) -> list[Job]:
    """A job per distinct request: one listed twice (the same key) is recorded once, not
    twice at once by two jobs."""
    from replaycodegen.cli.record_runner import Job

    first: dict[str, int] = {}
    work = []
    for n, request in enumerate(requests, 1):
        key = recorder.cassette.key_for(request, [])
        if key in first:
            if not state.as_json:
                state.out.warning(f"request {n} is request {first[key]} again (the same "
                                  f"{', '.join(recorder.cassette.match_on)}): recorded once")
            continue
        first[key] = n
        work.append(Job(n, request, recorder))
    return work


def _dry_run_report(state: State, recorder: RecordingCodeGenerator) -> None:
    from replaycodegen.generation.recording import describe_request

    out = state.out
    calls = recorder.would_call
    if state.as_json:
        emit_json({"cassette": recorder.path, "mode": recorder.record_mode.value,
                   "dry_run": True, "calls": len(calls),
                   "would_call": [{"request": describe_request(request, chain), "why": why}
                                  for request, chain, why in calls]})
        return
    out.echo()
    out.heading(f"dry run: {plural(len(calls), 'call')} would go to the model for "
                f"{display_path(recorder.path)} (nothing was called or written)")
    for request, chain, why in calls:
        out.echo(f"  {describe_request(request, chain)}: {why}")
    if calls:
        out.echo("  (later attempts of these requests depend on the answers, so they are not "
                 "listed)")


def summary_data(recorder: RecordingCodeGenerator, gate: CallGate, run: RunResult,
                 seconds: float) -> dict[str, Any]:
    """What a recording did, as ``--json`` prints it (and the text summary shows)."""
    from replaycodegen.cli.service_loop import OK
    from replaycodegen.maintenance.entries import entry_attempt
    from replaycodegen.maintenance.summary import total_tokens

    recorded = recorder.recorded
    outcomes = run.results
    return {
        "cassette": recorder.path,
        "mode": recorder.record_mode.value,
        "dry_run": False,
        "recorded": [{"id": e.id, "user_query": (e.request or {}).get("user_query"),
                      "attempt": entry_attempt(e), "model": e.meta.get("model")}
                     for e in recorded],
        "entries_in_cassette": len(recorder.cassette.entries),
        "requests": [r.to_data() for r in outcomes],
        "ok": sum(1 for r in outcomes if r.outcome.status == OK),
        "already_recorded": sum(1 for r in outcomes if r.outcome.status == OK
                                and not r.recorded),
        "calls": {"total": run.calls, "recorded": len(recorded),
                  "replayed": run.calls - len(recorded)},
        "tokens": total_tokens(recorded),
        "models": sorted({str(e.meta["model"]) for e in recorded if e.meta.get("model")}),
        "model_seconds": round(sum(float(e.meta.get("latency_ms") or 0) for e in recorded)
                               / 1000, 3),
        "seconds": round(seconds, 3),
        "retries": gate.retries,
        "budget": recorder.budget.describe() if recorder.budget.limited else None,
        "kept": [e.id for e in recorder.kept],
        "interrupted": run.interrupted,
    }


def _summary(state: State, summary: dict[str, Any], run: RunResult,
             recorder: RecordingCodeGenerator) -> None:
    from replaycodegen.cassette.provenance import describe_kept
    from replaycodegen.cli.service_loop import OK

    out = state.out
    recorded = len(summary["recorded"])
    calls = summary["calls"]
    out.echo()
    out.heading(f"recorded {plural(recorded, 'new entry', 'new entries')} into "
                f"{display_path(summary['cassette'])} (mode {summary['mode']}; "
                f"{plural(summary['entries_in_cassette'], 'entry')} in all)")
    already = summary["already_recorded"]
    skipped = f", {already} already recorded (replayed, no call)" if already else ""
    out.echo(f"  requests: {len(run.results)} ({summary['ok']} ok{skipped}); generator calls: "
             f"{calls['total']} ({calls['recorded']} recorded, {calls['replayed']} replayed)")
    out.echo(f"  tokens: {summary['tokens']}; models: {', '.join(summary['models']) or '-'}; "
             f"model time {summary['model_seconds']:.2f} s; total time "
             f"{summary['seconds']:.2f} s")
    if summary["retries"]:
        out.echo(f"  retries of 429/5xx answers or lost connections: {summary['retries']} "
                 "(never recorded)")
    if summary["budget"]:
        out.echo(f"  budget: {summary['budget']}")
    if recorder.kept:
        out.echo(f"  kept (never re-recorded): {describe_kept(recorder.kept)}")
    for result in run.results:
        if result.outcome.status != OK:
            show_unfinished(state, result, whole=len(run.results) > 1)
    if run.interrupted:
        out.echo("  interrupted: re-run the same command to record the rest (what is recorded "
                 "replays)")


