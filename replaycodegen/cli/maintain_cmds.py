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
from replaycodegen.cli.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, for_reading
from replaycodegen.cli.options import json_option
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.lint import Finding

LOAD_RULE = "load"
"""The finding ``lint_file`` adds for a file that cannot be loaded (its ``error``)."""

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
    from replaycodegen.maintenance.rehash import unpin

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
@json_option
@click.option("--max-age", metavar="AGE", help="Also report recordings older than AGE, e.g. "
              "90d (default: the codegen_max_age ini key, if set).")
@pass_state
def lint(state: State, paths: tuple[str, ...], fix: bool, as_json: bool,
         max_age: str | None) -> None:
    """Check cassettes: schema, stale keys, duplicates, code that does not parse, secrets,
    hand-edited recordings, and (with --max-age) expired ones.

    Exit code 0 when clean, 1 when findings remain, 2 when a file cannot be loaded.
    """
    from replaycodegen.cassette.loading.loader import NotACassetteError
    from replaycodegen.errors import CassetteError
    from replaycodegen.lifecycle.freshness.project_settings import (
        find_project_settings,
        resolve_max_age,
    )
    from replaycodegen.maintenance.lint import lint_file

    age, age_text = resolve_max_age(max_age, find_project_settings())

    out = state.out
    reports: list[dict[str, Any]] = []
    files = expand_paths(paths)
    for path in files:
        result = lint_file(path, max_age=age, max_age_text=age_text)
        if isinstance(result.load_error, NotACassetteError):  # another tool's (vcrpy)
            if not as_json:
                out.echo(result.load_error.skipped)
            reports.append({"path": str(path), "loaded": False, "skipped": True,
                            "reason": result.load_error.skipped, "error": None,
                            "findings": [], "fixed": []})
            continue
        if result.load_error is not None:
            load_error = str(for_reading(result.load_error))
            if not as_json:
                out.error(load_error)
            others = [f for f in result.findings if f.rule != LOAD_RULE]  # that is "error"
            reports.append({"path": str(path), "loaded": False, "error": load_error,
                            "findings": [f.to_data() for f in others], "fixed": []})
            continue
        error: str | None = None
        try:
            fixed = _fix(path) if fix and result.fixable else []
        except CassetteError as exc:
            error = str(for_reading(exc))
            if not as_json:
                out.error(error)
            fixed = []
        done = {(f.rule, f.entry) for f in fixed}
        left = [f for f in result.findings if (f.rule, f.entry) not in done]
        reports.append({"path": str(path), "loaded": True, "error": error,
                        "findings": [f.to_data() for f in left],
                        "fixed": [f.to_data() for f in fixed]})
        if as_json:
            continue
        for finding in fixed:
            out.echo(out.style("fixed", fg="green") + f" {finding}")
        for finding in left:
            out.echo(str(finding))
    remaining = sum(len(r["findings"]) for r in reports)
    counted = [r for r in reports if not r.get("skipped")]  # another tool's file: not ours
    errors = sum(1 for r in counted if r["error"] is not None)
    unloadable = sum(1 for r in counted if not r["loaded"])
    clean = sum(1 for r in counted if r["loaded"] and not r["findings"] and not r["error"])
    skipped = len(reports) - len(counted)
    if as_json:
        out.json({"files": reports, "checked": len(counted), "clean": clean,
                  "findings": remaining, "fixed": sum(len(r["fixed"]) for r in reports),
                  "unloadable": unloadable, "errors": errors, "skipped": skipped})
    elif remaining or len(files) > 1 or not errors:
        out.echo(f"{plural(len(counted), 'file')} checked: {clean} clean, "
                 f"{plural(remaining, 'finding')}"
                 + (f", {unloadable} not loadable" if unloadable else "")
                 + (f", {skipped} skipped (not replaycodegen cassettes)" if skipped else ""))
    _finish(errors, remaining)


# -- rehash -------------------------------------------------------------------------------


@click.command(short_help="Rewrite stored keys from the requests.")
@PATHS
@json_option
@pass_state
def rehash(state: State, paths: tuple[str, ...], as_json: bool) -> None:
    """Rewrite stored keys from each entry's request (after editing a request or
    match_on). A file whose keys are all right is left untouched."""
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.rehash import pinned_keys, stale_keys, unpin

    out = state.out
    files: list[dict[str, Any]] = []
    for path in expand_paths(paths):
        record: dict[str, Any] = {"path": str(path), "error": None, "rewrote": [],
                                  "unpinned": [], "dropped_torn_tail": False, "untouched": True}
        files.append(record)
        try:
            with updating(path) as edit:
                stale = stale_keys(edit.cassette)
                pinned = pinned_keys(edit.cassette)
                torn = edit.cassette.torn_tail
                for entry in pinned:
                    unpin(entry)
                edit.touch(*(e.id for e in [*stale, *pinned]))
        except CassetteError as exc:
            _file_error(state, record, exc)
            continue
        record.update(rewrote=[e.id for e in stale], unpinned=[e.id for e in pinned],
                      dropped_torn_tail=bool(torn), untouched=not (stale or pinned or torn))
        if as_json:
            continue
        if record["untouched"]:
            out.echo(f"{display_path(path)}: keys up to date (untouched)")
            continue
        parts = []
        if stale:
            parts.append(f"rewrote {plural(len(stale), 'key')} "
                         f"({', '.join(e.id for e in stale)})")
        if pinned:
            parts.append(f"keyed {plural(len(pinned), 'entry')} on the scrubbed text, not a "
                         f"pinned hash ({', '.join(e.id for e in pinned)})")
        if torn:
            parts.append("dropped the torn last entry")
        out.echo(f"{display_path(path)}: " + "; ".join(parts))
    errors = sum(1 for f in files if f["error"] is not None)
    if as_json:
        out.json({"files": files, "rewrote": sum(len(f["rewrote"]) for f in files),
                  "unpinned": sum(len(f["unpinned"]) for f in files), "errors": errors})
    _finish(errors)


def _file_error(state: State, record: dict[str, Any], exc: CassetteError) -> None:
    """A file the command could not work on: in its record, and (without --json) on stderr;
    the command goes on with the next file and exits 2 at the end."""
    record["error"] = str(for_reading(exc))
    if not state.as_json:
        state.out.error(record["error"])


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
@json_option
@pass_state
def prune(state: State, paths: tuple[str, ...], report: tuple[str, ...], orphans: bool,
          dry_run: bool, as_json: bool) -> None:
    """Remove the entries a test run did not use (from the plugin's report).

    PATHS default to every cassette the report names. Ids no longer in a file are
    reported and skipped. A partial report (a shard missing) is refused.
    """
    from replaycodegen.cli.context import load
    from replaycodegen.cli.lifecycle_cmds import prune_orphans, unused_from
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.prune import prune_entries

    out = state.out
    unused, orphaned = unused_from(state, report, orphans=orphans)
    targets = expand_paths(paths) if paths else sorted(unused)
    cassettes: list[dict[str, Any]] = []
    for path in targets:
        ids = unused.get(Path(path).resolve())
        shown = display_path(path)
        record: dict[str, Any] = {"path": str(path), "error": None, "in_report": ids is not None,
                                  "removed": [], "missing": []}
        cassettes.append(record)
        if ids is None or not ids:
            if not as_json:
                out.echo(f"{shown}: not in the report; nothing to prune" if ids is None
                         else f"{shown}: every entry was used; nothing to prune")
            continue
        try:
            if dry_run:
                removed, missing = prune_entries(load(path), ids)
            else:
                with updating(path) as edit:
                    removed = edit.remove(ids)
                    missing = [i for i in dict.fromkeys(ids) if i not in {e.id for e in removed}]
        except CassetteError as exc:
            _file_error(state, record, exc)
            continue
        record.update(removed=[e.id for e in removed], missing=list(missing))
        if as_json:
            continue
        verb = "would remove" if dry_run else "removed"
        if removed:
            out.echo(f"{shown}: {verb} {plural(len(removed), 'unused entry', 'unused entries')}"
                     f": {', '.join(e.id for e in removed)}")
        for entry_id in missing:
            out.echo(f"{shown}: entry {entry_id!r} is not in the file (already removed?); "
                     "skipped")
    orphan_records = prune_orphans(state, orphaned, paths, dry_run)
    errors = sum(1 for r in [*cassettes, *orphan_records] if r["error"] is not None)
    if as_json:
        out.json({"dry_run": dry_run, "cassettes": cassettes,
                  "removed": sum(len(r["removed"]) for r in cassettes),
                  "orphans": orphan_records,
                  "orphans_removed": sum(1 for r in orphan_records if r["removed"]),
                  "errors": errors})
    _finish(errors)


# -- scrub --------------------------------------------------------------------------------


@click.command(short_help="Remove secrets from cassettes, in place.")
@PATHS
@json_option
@pass_state
def scrub(state: State, paths: tuple[str, ...], as_json: bool) -> None:
    """Replace secrets (API keys, tokens, secret-named environment values) with
    <SCRUBBED>, in place. A file without secrets is left untouched."""
    from replaycodegen.cassette.scrub import Scrubber
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.secret_scan import comment_secret_lines, find_secrets

    out = state.out
    scrubber = Scrubber()
    files: list[dict[str, Any]] = []
    for path in expand_paths(paths):
        record: dict[str, Any] = {"path": str(path), "error": None, "scrubbed": [],
                                  "comment_lines": [], "untouched": True}
        files.append(record)
        try:
            with updating(path, scrubber=scrubber) as edit:
                found = find_secrets(edit.cassette, scrubber)
                comments = comment_secret_lines(edit.text or "", scrubber)
                edit.touch(*(entry_id for entry_id in found if entry_id))
        except CassetteError as exc:
            _file_error(state, record, exc)
            continue
        record.update(scrubbed=[{"entry": entry_id or None, "fields": list(fields)}
                                for entry_id, fields in found.items()],
                      comment_lines=comments, untouched=not found and not comments)
        if as_json:
            continue
        if not found and not comments:
            out.echo(f"{display_path(path)}: no secrets found (untouched)")
        for entry_id, fields in found.items():
            subject = f"entry {entry_id}" if entry_id else "the description"
            out.echo(f"{display_path(path)}: scrubbed {subject} ({', '.join(fields)})")
        if comments:
            lines = "line" if len(comments) == 1 else "lines"
            out.echo(f"{display_path(path)}: scrubbed {plural(len(comments), 'comment')} "
                     f"(on {lines} {', '.join(map(str, comments))})")
    errors = sum(1 for f in files if f["error"] is not None)
    if as_json:
        out.json({"files": files, "scrubbed": sum(len(f["scrubbed"]) for f in files),
                  "errors": errors})
    _finish(errors)
