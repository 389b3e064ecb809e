"""``replaycodegen status``: the blast radius of a prompt, model or age change, offline
(logic in ``replaycodegen.lifecycle.freshness.status``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from replaycodegen.cli.context import State, display_path, expand_paths, pass_state
from replaycodegen.cli.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, for_reading
from replaycodegen.cli.options import json_option
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.lifecycle.freshness.status import CassetteStatus, FreshnessPolicy

PROMPT_BUILDER_HELP = ("The prompt builder, module:attribute (default: the codegen_prompt_builder "
                       "ini key, else the built-in one).")
MODEL_HELP = ("The model a re-recording would use (default: the codegen_model ini key, else "
              "$REPLAYCODEGEN_MODEL, else gpt-4o-mini).")
MAX_AGE_HELP = "Entries recorded longer ago are expired, e.g. 90d, 12w, 36h (ini: codegen_max_age)."


def default_paths(paths: tuple[str, ...]) -> list[Path]:
    """The files of PATHS (folders expanded); none given: ./cassettes, else the current folder."""
    if not paths:
        paths = ("cassettes",) if Path("cassettes").is_dir() else (".",)
    return expand_paths(paths)


def policy_from_options(prompt_builder: str | None, model: str | None, max_age: str | None
                        ) -> FreshnessPolicy:
    from replaycodegen.lifecycle.freshness.project_settings import (
        find_project_settings,
        freshness_policy,
    )

    return freshness_policy(find_project_settings(), prompt_builder=prompt_builder, model=model,
                            max_age=max_age)


F = TypeVar("F", bound=Callable[..., Any])


def freshness_options(command: F) -> F:
    """``--prompt-builder``, ``--model`` and ``--max-age``, as ``status`` and ``record`` share."""
    for option in reversed([
        click.option("--prompt-builder", metavar="MODULE:ATTR", help=PROMPT_BUILDER_HELP),
        click.option("--model", help=MODEL_HELP),
        click.option("--max-age", metavar="AGE", help=MAX_AGE_HELP),
    ]):
        command = option(command)
    return command


@click.command(short_help="Which entries are stale: prompt, model, age, hand edits.")
@click.argument("paths", nargs=-1, type=click.Path())
@freshness_options
@json_option
@pass_state
def status(state: State, paths: tuple[str, ...], prompt_builder: str | None, model: str | None,
           max_age: str | None, as_json: bool) -> None:
    """For every entry of the cassettes in PATHS (default: ./cassettes), one line: fresh,
    kept (crafted and hand entries are never re-recorded), or why it is stale: prompt
    changed, model changed, expired, hand-edited. No live call, no key.

    `replaycodegen record PATHS --stale` re-records exactly the stale entries.
    Exit code 0 when all are fresh, 1 when any is stale, 2 when a file cannot be loaded.
    """
    from replaycodegen.lifecycle.freshness.status import status_file

    policy = policy_from_options(prompt_builder, model, max_age)
    results = [status_file(path, policy) for path in default_paths(paths)]
    for result in results:
        if result.error is not None:
            result.error = for_reading(result.error)
    errors = sum(1 for r in results if r.error is not None)
    stale = sum(len(r.stale) for r in results)
    if as_json:
        state.out.json({"version": 1, "policy": policy.to_data(),
                        "cassettes": [r.to_data() for r in results],
                        "stale": stale, "unloadable": errors})
    else:
        _print(state, results)
    if errors:
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if stale:
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _print(state: State, results: list[CassetteStatus]) -> None:
    from replaycodegen.lifecycle.freshness.status import FRESH, KEPT, STALE

    out = state.out
    colours = {FRESH: "green", STALE: "yellow", KEPT: "cyan"}
    counts = {FRESH: 0, STALE: 0, KEPT: 0}
    for result in results:
        shown = display_path(result.path)
        if result.error is not None:
            out.error(str(result.error))
            continue
        for entry in result.entries:
            counts[entry.state] += 1
            where = f"{shown}:{entry.line}" if entry.line is not None else shown
            label = out.style(entry.state, fg=colours[entry.state])
            detail = entry.describe()
            out.echo(f"{where}: {entry.entry_id}: {label}" + (f": {detail}" if detail else ""))
    total = sum(counts.values())
    out.echo(f"{plural(total, 'entry')}: {counts[FRESH]} fresh, "
             f"{counts[STALE]} stale, {counts[KEPT]} kept")
    stale_files = [display_path(r.path) for r in results if r.stale]
    if stale_files:
        out.echo(f"re-record the stale ones: replaycodegen record {' '.join(stale_files)} --stale")
