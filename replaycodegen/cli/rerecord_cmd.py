"""``replaycodegen record PATHS --stale`` / ``--entry ID``: re-record exactly those entries
(logic in ``replaycodegen.lifecycle.freshness.rerecord``), print what happened to each, and write it
as Markdown for a pull-request comment (``--summary-md``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replaycodegen.cli.context import State, display_path
from replaycodegen.cli.errors import RunFailed, UserError, emit_json
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.cli.record_runner import Job, RunResult
    from replaycodegen.cli.record_setup import Settings
    from replaycodegen.generation.budget import RecordingBudget
    from replaycodegen.generation.call_gate import CallGate
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.lifecycle.freshness.project_settings import ProjectSettings
    from replaycodegen.lifecycle.freshness.rerecord import EntryResult, RerecordPlan


def _plans(targets: list[str], *, stale: bool, entry_ids: list[str], settings: Settings,
           project: ProjectSettings) -> list[RerecordPlan]:
    from replaycodegen.cli.context import load
    from replaycodegen.lifecycle.freshness.project_settings import freshness_policy
    from replaycodegen.lifecycle.freshness.rerecord import plan_rerecord

    policy = freshness_policy(project, prompt_builder=settings.prompt_builder,
                              model=settings.model, max_age=settings.max_age) if stale else None
    cassettes = [load(path) for path in targets]
    found = {i for c in cassettes for i in entry_ids if c.has_id(i)}
    missing = [i for i in entry_ids if i not in found]
    if missing:
        raise UserError(f"no entry {', '.join(missing)} in {', '.join(targets)}; fix: "
                        "`replaycodegen show PATH` lists the ids")
    plans = []
    for cassette in cassettes:
        ids = [i for i in entry_ids if cassette.has_id(i)]
        try:
            plans.append(plan_rerecord(cassette, policy=policy, entry_ids=ids))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return plans


def rerecord(state: State, targets: list[str], *, stale: bool, entry_ids: list[str],
             summary_md: str | None, settings: Settings, project: ProjectSettings,
             budget: RecordingBudget, make_gate: Callable[[], CallGate],
             make_recorder: Callable[..., RecordingCodeGenerator],
             config_for: Callable[[int], dict[str, Any]], retries: int | None,
             approve: bool) -> None:
    from replaycodegen.cli.record_runner import Job, run_jobs
    from replaycodegen.cli.record_setup import finish

    out = state.out
    plans = _plans(targets, stale=stale, entry_ids=entry_ids, settings=settings,
                   project=project)
    todo = [plan for plan in plans if plan.targets]
    if not state.as_json:
        _print_plans(state, plans, dry_run=settings.dry_run)
    if settings.dry_run or not todo:
        if settings.dry_run and todo and not state.as_json:
            out.echo("dry run: nothing was called or written")
        if summary_md is not None:
            _write_markdown(summary_md, [(p, _planned(p)) for p in todo], dry_run=True)
        if state.as_json:
            emit_json({"dry_run": settings.dry_run, "cassettes": [
                {"path": p.path, "entries": [e.to_data() for e in _planned(p)]} for p in plans]})
        return
    gate = make_gate()
    recorders = {plan.path: make_recorder(gate, plan.path, "stale", description=None,
                                          budget=budget, settings=settings, project=project,
                                          rerecord=plan.targets) for plan in todo}
    jobs: list[Job] = []
    for plan in todo:
        for request in plan.requests:
            if retries is not None:
                request = request.model_copy(update={"retries": retries})
            jobs.append(Job(len(jobs) + 1, request, recorders[plan.path]))
    started = time.perf_counter()
    try:
        run = asyncio.run(run_jobs(state, jobs, gate=gate, config_for=config_for,
                                   approve=approve, concurrency=settings.jobs,
                                   label=f"re-recording {plural(len(jobs), 'request')}"))
    finally:
        for recorder in recorders.values():
            recorder.close()
    results = _results(todo, recorders, run)
    seconds = time.perf_counter() - started
    if summary_md is not None:
        _write_markdown(summary_md, results, dry_run=False)
    if state.as_json:
        document = _data(results, gate, budget, seconds, run)
        try:
            finish(run, budget)
        except RunFailed as exc:
            emit_json(document, exc)
        emit_json(document)
        return
    _print(state, results, gate, budget, seconds, run)
    if summary_md is not None:
        out.echo(f"summary written to {summary_md}")
    finish(run, budget)


def _print_plans(state: State, plans: list[RerecordPlan], *, dry_run: bool) -> None:
    out = state.out
    for plan in plans:
        shown = display_path(plan.path)
        if not plan.targets:
            out.echo(f"{shown}: nothing to re-record ({plural(len(plan.before), 'entry')}, "
                     "none stale)")
            continue
        verb = "would re-record" if dry_run else "re-recording"
        out.heading(f"{shown}: {verb} {plural(len(plan.targets), 'entry')} "
                    f"({plural(len(plan.requests), 'request')})")
        for entry_id in plan.targets:
            out.echo(f"  {plan.describe_target(entry_id)}")


def _planned(plan: RerecordPlan) -> list[EntryResult]:
    from replaycodegen.lifecycle.freshness.rerecord import EntryResult

    return [EntryResult(i, "; ".join(plan.reasons.get(i) or ["asked for (--entry)"]),
                        _what(plan, i)) for i in plan.targets]


def _what(plan: RerecordPlan, entry_id: str) -> str:
    entry = plan.before[entry_id]
    query = str((entry.request or {}).get("user_query", ""))
    return f"request {query[:60]!r}, attempt {len(entry.error_chain) + 1}"


def _results(plans: list[RerecordPlan], recorders: dict[str, RecordingCodeGenerator],
             run: RunResult) -> list[tuple[RerecordPlan, list[EntryResult]]]:
    from replaycodegen.cassette.keys import canonical_json, request_fields
    from replaycodegen.cli.service_loop import FAILED, OK
    from replaycodegen.lifecycle.freshness.rerecord import summarize

    out = []
    for plan in plans:
        recorder = recorders[plan.path]
        unfinished = {  # requests whose run stopped early (budget, Ctrl-C...), by identity
            canonical_json(request_fields(r.job.request, recorder.cassette.match_on)):
                r.outcome.status
            for r in run.results
            if r.job.recorder is recorder and r.outcome.status not in (OK, FAILED)
        }
        out.append((plan, summarize(plan, recorder.cassette, recorder.recorded,
                                    recorder.cassette.played_ids, unfinished)))
    return out


def _counts(results: list[tuple[RerecordPlan, list[EntryResult]]]) -> dict[str, int]:
    from replaycodegen.lifecycle.freshness.rerecord import CODE_CHANGED, NEW, NOT_REACHED, UNCHANGED

    counts = dict.fromkeys((CODE_CHANGED, UNCHANGED, NEW, NOT_REACHED), 0)
    for _, entries in results:
        for entry in entries:
            key = next((k for k in counts if entry.outcome.startswith(k)), None)
            if key is not None:
                counts[key] += 1
    return counts


def _data(results: list[tuple[RerecordPlan, list[EntryResult]]], gate: CallGate,
          budget: RecordingBudget, seconds: float, run: RunResult) -> dict[str, Any]:
    """``record --stale --json``: each entry's outcome, the counts of those outcomes."""
    return {
        "dry_run": False,
        "cassettes": [{"path": plan.path, "entries": [e.to_data() for e in entries]}
                      for plan, entries in results],
        "counts": _counts(results),
        "calls": gate.calls, "tokens": gate.tokens, "retries": gate.retries,
        "budget": budget.describe() if budget.limited else None,
        "requests": [r.to_data() for r in run.results],
        "interrupted": run.interrupted,
        "seconds": round(seconds, 3),
    }


def _print(state: State, results: list[tuple[RerecordPlan, list[EntryResult]]],
           gate: CallGate, budget: RecordingBudget, seconds: float, run: RunResult) -> None:
    from replaycodegen.cli.record_setup import show_unfinished
    from replaycodegen.lifecycle.freshness.rerecord import CODE_CHANGED, NEW, NOT_REACHED, UNCHANGED

    out = state.out
    for plan, entries in results:
        out.echo()
        out.heading(f"{display_path(plan.path)}:")
        for entry in entries:
            out.echo(f"  {entry.entry_id}: {entry.outcome} ({entry.what})")
            for line in entry.diff:
                out.echo(f"      {line}")
    counts = _counts(results)
    out.echo()
    out.echo(f"re-recorded: {counts[CODE_CHANGED]} code changed, {counts[UNCHANGED]} unchanged, "
             f"{counts[NEW]} new, {counts[NOT_REACHED]} no longer reached; "
             f"{plural(gate.calls, 'live call')}, {plural(gate.tokens, 'token')}, "
             f"{plural(gate.retries, 'retry', 'retries')}; {seconds:.2f} s")
    if budget.limited:
        out.echo(f"budget: {budget.describe()}")
    for result in run.results:
        if result.outcome.status != "ok":
            show_unfinished(state, result, whole=len(run.results) > 1)


def _write_markdown(path: str, results: list[tuple[RerecordPlan, list[EntryResult]]], *,
                    dry_run: bool) -> None:
    from replaycodegen.lifecycle.freshness.rerecord import to_markdown

    text = to_markdown([(display_path(p.path), entries) for p, entries in results],
                       dry_run=dry_run)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write the summary: {exc.strerror or exc}") from None
