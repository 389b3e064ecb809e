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
    pass_state,
    updating,
)
from replaycodegen.cli.errors import EXIT_BAD_INPUT, EXIT_FINDINGS

if TYPE_CHECKING:
    from replaycodegen.maintenance.lint import Finding

PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path())


def _finish(errors: int, findings: int = 0) -> None:
    if errors:
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if findings:
        raise click.exceptions.Exit(EXIT_FINDINGS)


# -- lint ---------------------------------------------------------------------------------


def _fix(path: Path) -> list[Finding]:
    """Fix what lint can fix, in one locked read-modify-write of the file as it is now
    (keys derived, a torn tail dropped, secrets scrubbed, pinned hashes dropped); only the
    entries fixed are written again. Returns the findings fixed."""
    from replaycodegen.maintenance.lint import lint_text
    from replaycodegen.maintenance.ops import unpin

    with updating(path) as edit:
        assert edit.text is not None
        fixable = lint_text(edit.text, str(path)).fixable
        for finding in fixable:
            if finding.entry is None:
                continue  # torn tail and the description: every rewrite fixes them
            if finding.rule == "pinned-hash":
                unpin(edit.get(finding.entry))
            edit.touch(finding.entry)
    return fixable


@click.command(short_help="Check cassettes: keys, duplicates, secrets...")
@PATHS
@click.option("--fix", is_flag=True,
              help="Recompute keys, drop a torn last entry, scrub secrets (atomic rewrite).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--max-age", metavar="AGE", help="Also report recordings older than AGE, e.g. "
              "90d (default: the codegen_max_age ini key, if set).")
@pass_state
def lint(state: State, paths: tuple[str, ...], fix: bool, as_json: bool,
         max_age: str | None) -> None:
    """Check cassettes: schema, stale keys, duplicates, code that does not parse, secrets,
    hand-edited recordings, and (with --max-age) expired ones.

    Exit code 0 when clean, 1 when findings remain, 2 when a file cannot be loaded.
    """
    from replaycodegen.cassette.loader import NotACassetteError
    from replaycodegen.errors import CassetteError
    from replaycodegen.lifecycle.project_settings import find_project_settings, resolve_max_age
    from replaycodegen.maintenance.lint import lint_file

    age, age_text = resolve_max_age(max_age, find_project_settings())

    out = state.out
    reports: list[dict[str, Any]] = []
    errors = remaining = 0
    files = expand_paths(paths)
    for path in files:
        result = lint_file(path, max_age=age, max_age_text=age_text)
        if isinstance(result.load_error, NotACassetteError):  # another tool's (vcrpy)
            if not as_json:
                out.echo(result.load_error.skipped)
            reports.append({"path": str(path), "loaded": False, "skipped": True,
                            "error": result.load_error.skipped, "findings": [], "fixed": []})
            continue
        if result.load_error is not None:
            errors += 1
            if not as_json:
                out.error(str(result.load_error))
            reports.append({"path": str(path), "loaded": False,
                            "error": str(result.load_error),
                            "findings": [f.to_data() for f in result.findings], "fixed": []})
            continue
        try:
            fixed = _fix(path) if fix and result.fixable else []
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            fixed = []
        done = {(f.rule, f.entry) for f in fixed}
        left = [f for f in result.findings if (f.rule, f.entry) not in done]
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
    from replaycodegen.maintenance.ops import pinned_keys, stale_keys, unpin

    out = state.out
    errors = 0
    for path in expand_paths(paths):
        try:
            with updating(path) as edit:
                stale = stale_keys(edit.cassette)
                pinned = pinned_keys(edit.cassette)
                torn = edit.cassette.torn_tail
                for entry in pinned:
                    unpin(entry)
                edit.touch(*(e.id for e in [*stale, *pinned]))
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            continue
        if not stale and not pinned and not torn:
            out.echo(f"{display_path(path)}: keys up to date (untouched)")
            continue
        parts = []
        if stale:
            parts.append(f"rewrote {len(stale)} key(s) ({', '.join(e.id for e in stale)})")
        if pinned:
            parts.append(f"keyed {len(pinned)} entr{'y' if len(pinned) == 1 else 'ies'} on the "
                         f"scrubbed text, not a pinned hash ({', '.join(e.id for e in pinned)})")
        if torn:
            parts.append("dropped the torn last entry")
        out.echo(f"{display_path(path)}: " + "; ".join(parts))
    _finish(errors)


# -- prune --------------------------------------------------------------------------------


@click.command(short_help="Remove entries a test run did not use.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--unused-from", "report", required=True, multiple=True, type=click.Path(),
              help="The report of `pytest --codegen-report=PATH`, the combined report of "
              "`replaycodegen combine`, or the reports of every shard (files, folders, globs; "
              "repeat the option), combined with combine's rules.")
@click.option("--orphans", is_flag=True,
              help="Also delete orphaned cassette files (no collected test owns them).")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; write nothing.")
@pass_state
def prune(state: State, paths: tuple[str, ...], report: tuple[str, ...], orphans: bool,
          dry_run: bool) -> None:
    """Remove the entries a test run did not use (from the plugin's report).

    PATHS default to every cassette the report names. Ids no longer in a file are
    reported and skipped. A partial report (a shard missing) is refused.
    """
    from replaycodegen.cli.context import load
    from replaycodegen.cli.lifecycle_cmds import prune_orphans, unused_from
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.ops import prune_entries

    out = state.out
    unused, orphaned = unused_from(state, report, orphans=orphans)
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
            if dry_run:
                removed, missing = prune_entries(load(path), ids)
            else:
                with updating(path) as edit:
                    removed = edit.remove(ids)
                    missing = [i for i in dict.fromkeys(ids) if i not in {e.id for e in removed}]
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
    errors += prune_orphans(state, orphaned, paths, dry_run)
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
    from replaycodegen.maintenance.ops import find_secrets

    out = state.out
    errors = 0
    scrubber = Scrubber()
    for path in expand_paths(paths):
        try:
            with updating(path, scrubber=scrubber) as edit:
                found = find_secrets(edit.cassette, scrubber)
                edit.touch(*(entry_id for entry_id in found if entry_id))
            if not found:
                out.echo(f"{display_path(path)}: no secrets found (untouched)")
                continue
        except CassetteError as exc:
            errors += 1
            out.error(str(exc))
            continue
        for entry_id, fields in found.items():
            subject = f"entry {entry_id}" if entry_id else "the description"
            out.echo(f"{display_path(path)}: scrubbed {subject} ({', '.join(fields)})")
    _finish(errors)
