"""Maintenance commands: ``lint``, ``rehash``, ``prune``, ``scrub`` (logic in
``replaycodegen.maintenance.lint`` and ``replaycodegen.maintenance.ops``).

Each takes several files (or folders of cassettes), goes on past a file that cannot be
loaded, reports it as one ``error:`` line and exits 2 at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import (
    State,
    display_path,
    expand_paths,
    open_for_update,
    pass_state,
    write,
)
from replaycodegen.cli.errors import EXIT_BAD_INPUT, EXIT_FINDINGS

if TYPE_CHECKING:
    from replaycodegen.maintenance.lint import Finding, LintResult

PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path())


def _finish(errors: int, findings: int = 0) -> None:
    if errors:
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if findings:
        raise click.exceptions.Exit(EXIT_FINDINGS)


# -- lint ---------------------------------------------------------------------------------


def _fix(result: LintResult) -> list[Finding]:
    """Write the cassette back through the store (keys derived, torn tail dropped,
    secrets scrubbed); the findings that this fixed."""
    from replaycodegen.cassette.scrub import Scrubber
    from replaycodegen.maintenance.ops import scrub_unstored_fields

    fixable = result.fixable
    if not fixable or result.cassette is None:
        return []
    scrub_unstored_fields(result.cassette, Scrubber())
    write(result.cassette, result.path)
    return fixable


@click.command(short_help="Check cassettes: keys, duplicates, secrets...")
@PATHS
@click.option("--fix", is_flag=True,
              help="Recompute keys, drop a torn last entry, scrub secrets (atomic rewrite).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_state
def lint(state: State, paths: tuple[str, ...], fix: bool, as_json: bool) -> None:
    """Check cassettes: schema, stale keys, duplicates, code that does not parse, secrets.

    Exit code 0 when clean, 1 when findings remain, 2 when a file cannot be loaded.
    """
    from replaycodegen.cassette.loader import NotACassetteError
    from replaycodegen.maintenance.lint import lint_file

    out = state.out
    reports: list[dict[str, Any]] = []
    errors = remaining = 0
    files = expand_paths(paths)
    for path in files:
        result = lint_file(path)
        if isinstance(result.load_error, NotACassetteError):  # another tool's (vcrpy)
            if not as_json:
                out.echo(str(result.load_error))
            reports.append({"path": str(path), "loaded": False, "skipped": True,
                            "error": str(result.load_error), "findings": [], "fixed": []})
            continue
        if result.load_error is not None:
            errors += 1
            if not as_json:
                out.error(str(result.load_error))
            reports.append({"path": str(path), "loaded": False,
                            "error": str(result.load_error),
                            "findings": [f.to_data() for f in result.findings], "fixed": []})
            continue
        fixed = _fix(result) if fix else []
        left = [f for f in result.findings if f not in fixed]
        remaining += len(left)
        reports.append({"path": str(path), "loaded": True,
                        "findings": [f.to_data() for f in left],
                        "fixed": [f.to_data() for f in fixed]})
        if as_json:
            continue
        for finding in fixed:
            out.echo(out.style("fixed", fg="green") + f" {finding}")
        for finding in left:
            out.echo(str(finding))
    if as_json:
        out.json({"files": reports, "findings": remaining, "unloadable": errors})
    elif remaining or len(files) > 1 or not errors:
        clean = sum(1 for r in reports if r["loaded"] and not r["findings"])
        out.echo(f"{len(files)} file(s) checked: {clean} clean, {remaining} finding(s)"
                 + (f", {errors} not loadable" if errors else ""))
    _finish(errors, remaining)


# -- rehash -------------------------------------------------------------------------------


@click.command(short_help="Rewrite stored keys from the requests.")
@PATHS
@pass_state
def rehash(state: State, paths: tuple[str, ...]) -> None:
    """Rewrite stored keys from each entry's request (after editing a request or
    match_on). A file whose keys are all right is left untouched."""
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.ops import stale_keys

    out = state.out
    errors = 0
    for path in expand_paths(paths):
        try:
            store, cassette = open_for_update(path)
            stale = stale_keys(cassette)
            if not stale and not cassette.torn_tail:
                out.echo(f"{display_path(path)}: keys up to date (untouched)")
                continue
            write(cassette, path, store)
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            continue
        ids = ", ".join(e.id for e in stale)
        torn = "; dropped the torn last entry" if cassette.torn_tail else ""
        out.echo(f"{display_path(path)}: rewrote {len(stale)} key(s)"
                 + (f" ({ids})" if ids else "") + torn)
    _finish(errors)


# -- prune --------------------------------------------------------------------------------


@click.command(short_help="Remove entries a test run did not use.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--unused-from", "report", required=True, type=click.Path(dir_okay=False),
              help="The JSON report of `pytest --codegen-report=PATH`.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; write nothing.")
@pass_state
def prune(state: State, paths: tuple[str, ...], report: str, dry_run: bool) -> None:
    """Remove the entries a test run did not use (from the plugin's report).

    PATHS default to every cassette the report names. Ids no longer in a file are
    reported and skipped.
    """
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.ops import prune_entries, read_codegen_report

    out = state.out
    unused = read_codegen_report(report)
    targets = expand_paths(paths) if paths else sorted(unused)
    errors = 0
    for path in targets:
        ids = unused.get(Path(path).resolve())
        shown = display_path(path)
        if ids is None:
            out.echo(f"{shown}: not in the report; nothing to prune")
            continue
        if not ids:
            out.echo(f"{shown}: every entry was used; nothing to prune")
            continue
        try:
            store, cassette = open_for_update(path)
            removed, missing = prune_entries(cassette, ids)
            if removed and not dry_run:
                write(cassette, path, store)
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            continue
        verb = "would remove" if dry_run else "removed"
        if removed:
            out.echo(f"{shown}: {verb} {len(removed)} unused entr"
                     f"{'y' if len(removed) == 1 else 'ies'}: {', '.join(e.id for e in removed)}")
        for entry_id in missing:
            out.echo(f"{shown}: entry {entry_id!r} is not in the file (already removed?); "
                     "skipped")
    _finish(errors)


# -- scrub --------------------------------------------------------------------------------


@click.command(short_help="Remove secrets from cassettes, in place.")
@PATHS
@pass_state
def scrub(state: State, paths: tuple[str, ...]) -> None:
    """Replace secrets (API keys, tokens, secret-named environment values) with
    <SCRUBBED>, in place. A file without secrets is left untouched."""
    from replaycodegen.cassette.scrub import Scrubber
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.ops import find_secrets, scrub_unstored_fields

    out = state.out
    errors = 0
    scrubber = Scrubber()
    for path in expand_paths(paths):
        try:
            store, cassette = open_for_update(path)
            found = find_secrets(cassette, scrubber)
            if not found:
                out.echo(f"{display_path(path)}: no secrets found (untouched)")
                continue
            scrub_unstored_fields(cassette, scrubber)
            store.scrubber = scrubber
            write(cassette, path, store)
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            continue
        for entry_id, fields in found.items():
            subject = f"entry {entry_id}" if entry_id else "the description"
            out.echo(f"{display_path(path)}: scrubbed {subject} ({', '.join(fields)})")
    _finish(errors)
