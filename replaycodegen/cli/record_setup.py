"""What every recording path of ``replaycodegen record`` shares: its settings, the real
generator behind a ``CallGate``, the recorder, the service config, and the exit."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State
from replaycodegen.cli.errors import RunFailed, UserError
from replaycodegen.cli.render import one_line
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.cli.record_runner import JobResult, RunResult
    from replaycodegen.generation.budget import RecordingBudget
    from replaycodegen.generation.call_gate import CallGate
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.lifecycle.freshness.project_settings import ProjectSettings


NO_KEY = (
    "no API key: set OPENAI_API_KEY to record (a local OpenAI-compatible server accepts any "
    "dummy value, e.g. OPENAI_API_KEY=dummy); nothing was recorded"
)


EXIT_INTERRUPTED = 130


DRY_RUN_KEY = "dry-run-never-sent"


@dataclass
class Settings:
    """The options every recording path shares."""

    model: str | None
    base_url: str | None
    prompt_builder: str | None
    max_age: str | None
    max_calls: int | None
    max_tokens: int | None
    max_retries: int | None
    dry_run: bool
    jobs: int
    rpm: float | None


def real_generator(model: str | None, base_url: str | None, *, dry_run: bool = False,
                   **options: Any) -> OpenAICodeGenerator:
    """The OpenAI-compatible generator to record with; no key is a ``UserError`` (a dry run
    needs none: it never calls). ``options``: more ``OpenAICodeGenerator`` arguments."""
    from replaycodegen.errors import CodeGenerationError
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator

    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key and not dry_run:
        raise UserError(NO_KEY)
    try:
        return OpenAICodeGenerator(model, base_url=base_url, api_key=key or DRY_RUN_KEY,
                                   **options)
    except CodeGenerationError as exc:
        raise UserError(f"{exc.message}; nothing was recorded") from None


def call_gate(settings: Settings, project: ProjectSettings) -> CallGate:
    """The real generator (the configured model and prompt builder) behind a ``CallGate``."""
    from replaycodegen.generation.call_gate import CallGate
    from replaycodegen.lifecycle.freshness.project_settings import (
        resolve_model,
        resolve_prompt_builder,
    )

    extra: dict[str, Any] = {}
    if settings.max_retries is not None:
        extra["max_retries"] = settings.max_retries
    generator = real_generator(
        resolve_model(settings.model, project), settings.base_url, dry_run=settings.dry_run,
        prompt_builder=resolve_prompt_builder(settings.prompt_builder, project), **extra)
    return CallGate(generator, jobs=settings.jobs, rpm=settings.rpm)


def make_recorder(gate: CallGate, cassette: str, mode: str, *, description: str | None,
              budget: RecordingBudget, settings: Settings, project: ProjectSettings,
              rerecord: list[str] | None = None) -> RecordingCodeGenerator:
    from replaycodegen.generation.recording import RecordingCodeGenerator
    from replaycodegen.lifecycle.freshness.project_settings import resolve_max_age
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy

    freshness = None
    if mode == "stale" and rerecord is None:
        freshness = FreshnessPolicy.for_generator(
            gate, resolve_max_age(settings.max_age, project)[0])
    try:
        return RecordingCodeGenerator(
            gate, cassette, mode, description=description, budget=budget,
            dry_run=settings.dry_run, rerecord=rerecord, freshness=freshness)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def service_config_for(timeout: float | None, execution_root: str | None
                       ) -> Callable[[int], dict[str, Any]]:
    """The service config of request ``n`` (its own thread id)."""
    from replaycodegen.cli.service_loop import service_config

    return lambda number: service_config(f"record-{number}", timeout, execution_root)


def finish(run: RunResult, budget: RecordingBudget) -> None:
    """The exit: 130 after Ctrl-C, 1 when the budget refused a call or a request failed."""
    from replaycodegen.cli.record_runner import BUDGET
    from replaycodegen.cli.service_loop import OK

    if run.interrupted:
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
    refused = [r for r in run.results if r.outcome.status == BUDGET]
    if refused:
        raise RunFailed(
            f"the recording budget stopped {plural(len(refused), 'request')} after "
            f"{plural(budget.calls, 'live call')} ({budget.describe()}); not recorded: "
            f"{', '.join(budget.refused)}. Raise --max-calls/--max-tokens and re-run: what is "
            "recorded replays")
    failed = [r for r in run.results if r.outcome.status != OK]
    if len(run.results) == 1 and failed:  # the whole message here, not in the summary
        outcome = failed[0].outcome
        raise RunFailed(f"the request did not finish: {outcome.status}: {outcome.message}")
    if failed:
        which = ", ".join(f"request {r.job.number}: {r.outcome.status}" for r in failed[:5])
        more = f", and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise RunFailed(f"{len(failed)} of {plural(len(run.results), 'request')} did not "
                        f"finish ({which}{more}); each request's whole message is in the "
                        "summary")


def show_unfinished(state: State, result: JobResult, *, whole: bool) -> None:
    """A request that did not end with results: with its whole message when ``whole`` (a
    miss explanation or a connection error's fix spans several lines: all are printed),
    else only its status (a single request's message is the command's error, on stderr)."""
    out = state.out
    outcome = result.outcome
    head = f"  request {result.job.number} ({one_line(result.job.request.user_query, 60)!r}): "
    if not whole:
        out.echo(f"{head}{outcome.status} (the error below says why)")
        return
    lines = outcome.message.splitlines() or [""]
    out.echo(f"{head}{outcome.status}: {lines[0]}")
    for line in lines[1:]:
        out.echo(f"    {line}")
