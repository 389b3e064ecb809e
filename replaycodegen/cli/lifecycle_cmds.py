"""CI-at-scale commands: ``combine`` and ``merge-driver``, plus what ``prune`` (reports,
orphans) and ``record --from-ledger`` (reading many reports or ledgers) use; the logic is in
``replaycodegen.lifecycle``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State, display_path, pass_state
from replaycodegen.cli.errors import RunFailed, UserError
from replaycodegen.cli.options import json_option
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.lifecycle.ci.combine import CombinedReport
    from replaycodegen.lifecycle.ci.reports import OrphanRecord, RunReport

MAX_LISTED = 20


# -- reading reports ------------------------------------------------------------------------


def report_inputs(names: Sequence[str], pattern: str) -> list[tuple[Path, bool]]:
    """``(file, found by a folder or glob)`` for every name (see ``outputs.expand_inputs``)."""
    from replaycodegen.lifecycle.ci.outputs import expand_inputs

    out: list[tuple[Path, bool]] = []
    for name in names:
        files = expand_inputs([name], pattern=pattern)
        found = Path(name).is_dir() or files != [Path(name)]
        out.extend((f, found) for f in files)
        if found and not files:
            raise UserError(f"{name}: no {pattern} files found there")
    return list(dict.fromkeys(out))


def read_run_reports(state: State, names: Sequence[str]) -> list[RunReport]:
    """The shard reports among ``names``; a non-report found in a folder is skipped with a
    warning, a named file that is not one is an error."""
    from replaycodegen.errors import CassetteError
    from replaycodegen.lifecycle.ci.combine import CombinedReport, read_any
    from replaycodegen.lifecycle.ci.reports import LegacyReport, RunReport

    runs: list[RunReport] = []
    for file, found in report_inputs(names, "*.json"):
        try:
            report = read_any(file)
        except CassetteError as exc:
            if found and "not a replaycodegen report" in exc.reason:
                state.out.warning(f"{file}: not a replaycodegen report; skipped")
                continue
            raise
        if isinstance(report, CombinedReport):
            if found:  # combine's own output, written into the reports folder
                state.out.warning(f"{file}: a combined report, not a shard's; skipped")
                continue
            raise UserError(f"{file}: is a combined report; give the shard reports it was "
                            "made from (or this file alone)")
        if isinstance(report, LegacyReport):
            raise UserError(f"{file}: a version 1 report (replaycodegen 0.1) has no shard or "
                            "test information; write it again with `pytest --codegen-report`")
        assert isinstance(report, RunReport)
        runs.append(report)
    return runs


def combined_from(state: State, names: Sequence[str], *, allow_partial: bool = False,
                  shards_only: bool = False) -> CombinedReport:
    """One combined report: ``names`` is a combined report (unless ``shards_only``), or
    shard reports to combine (exit 1 naming what is missing when they are incomplete)."""
    from replaycodegen.lifecycle.ci.combine import (
        CombinedReport,
        IncompleteReports,
        combine_reports,
        read_any,
    )

    if not shards_only and len(names) == 1 and Path(names[0]).is_file():
        single = read_any(names[0])
        if isinstance(single, CombinedReport):
            return single
    try:
        return combine_reports(read_run_reports(state, names), allow_partial=allow_partial)
    except IncompleteReports as exc:
        raise RunFailed(f"{exc}; fix: download the reports of every shard (a re-run's replace "
                        "the old ones), or pass --allow-partial to combine what there is "
                        "(prune refuses a partial result)") from None


# -- combine --------------------------------------------------------------------------------


def _orphan_line(orphan: OrphanRecord) -> str:
    renamed = (f"; likely renamed to {', '.join(orphan.likely_renamed_to)}"
               if orphan.likely_renamed_to else "")
    return f"{orphan.path} ({plural(orphan.entries, 'entry')}{renamed})"


def show_combined(state: State, combined: CombinedReport, output: str | None) -> None:
    out = state.out
    used = [r for r in combined.reports if not r.superseded]
    replaced = len(combined.reports) - len(used)
    unused = sum(len(c.unused) for c in combined.cassettes.values())
    shards = ", ".join(r.shard for r in used)
    out.heading(f"combined {plural(len(used), 'report')} (shards {shards}"
                + (f"; {plural(replaced, 'older re-run')} replaced" if replaced else "")
                + f"): {plural(len(combined.cassettes), 'cassette')}, "
                f"{plural(unused, 'unused entry', 'unused entries')}, "
                f"{plural(len(combined.orphans), 'orphan')}")
    if not combined.complete:
        out.echo(out.style("PARTIAL", fg="yellow", bold=True) + ": "
                 + "; ".join(combined.partial) + " (prune refuses a partial report)")
    for name, cassette in list(combined.cassettes.items())[:MAX_LISTED]:
        if cassette.unused:
            out.echo(f"  {name}: unused {', '.join(cassette.unused)}")
        elif not cassette.checked:
            why = (f"{', '.join(cassette.not_passed[:3])} did not run and pass"
                   if cassette.not_passed else "its entries are unknown")
            out.echo(f"  {name}: not checked ({why})")
    for orphan in combined.orphans[:MAX_LISTED]:
        out.echo(f"  orphan {_orphan_line(orphan)}")
    if output:
        hint = (f"; remove them with `replaycodegen prune --unused-from {output}"
                + (" --orphans" if combined.orphans else "") + "`"
                if combined.complete and (unused or combined.orphans) else "")
        out.echo(f"wrote {output}{hint}")


@click.command(short_help="Combine the reports of CI shards into one.")
@click.argument("reports", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the combined report to this file (read by prune --unused-from).")
@click.option("--allow-partial", is_flag=True,
              help="Combine an incomplete set (a shard missing); the result is labelled "
              "partial and prune refuses it.")
@json_option
@pass_state
def combine(state: State, reports: tuple[str, ...], output: str | None, allow_partial: bool,
            as_json: bool) -> None:
    """Combine `pytest --codegen-report` files of every shard and xdist worker of a CI run.

    REPORTS are files, folders (searched for *.json) or globs. An entry is unused only if
    no shard played it and every test owning its cassette ran and passed in some shard.
    Exit code 1 (naming the missing shards) when the set is incomplete, unless
    --allow-partial; a shard reported twice counts once, the latest run.
    """
    from replaycodegen.atomic import write_json

    combined = combined_from(state, reports, allow_partial=allow_partial, shards_only=True)
    if output:
        write_json(Path(output), combined.to_data())
    if as_json:
        state.out.json(combined.to_data())
    else:
        show_combined(state, combined, output)


# -- prune: the verdict and orphans -----------------------------------------------------------


def unused_from(state: State, names: Sequence[str], *, orphans: bool
                ) -> tuple[dict[Path, list[str]], list[tuple[Path, OrphanRecord]]]:
    """What prune may remove: unused ids per cassette and the orphan files, from a combined
    report, one report, or several (combined here with combine's rules)."""
    from replaycodegen.lifecycle.ci.combine import read_any
    from replaycodegen.lifecycle.ci.outputs import resolve
    from replaycodegen.lifecycle.ci.reports import LegacyReport
    from replaycodegen.maintenance.prune import read_codegen_report

    if len(names) == 1 and Path(names[0]).is_file():
        single = read_any(names[0])
        if isinstance(single, LegacyReport):
            if orphans:
                raise UserError(f"{names[0]}: a version 1 report does not list orphans; write "
                                "it again with this replaycodegen's `pytest --codegen-report`")
            return read_codegen_report(names[0]), []
    combined = combined_from(state, names)
    if not combined.complete:
        raise RunFailed(f"the report is partial ({'; '.join(combined.partial)}): prune needs "
                        "the reports of every shard, combined without --allow-partial")
    found = [(resolve(o.path, combined.roots), o) for o in combined.orphans] if orphans else []
    return combined.unused(), found


def _below(path: Path, targets: Sequence[str]) -> bool:
    return not targets or any(
        path == Path(t).resolve() or path.is_relative_to(Path(t).resolve()) for t in targets)


def prune_orphans(state: State, orphans: Sequence[tuple[Path, OrphanRecord]],
                  paths: Sequence[str], dry_run: bool) -> list[dict[str, Any]]:
    """Delete the orphaned cassettes (under PATHS, when given), printing each unless
    ``--json``; one record per orphan: path, entries, removed, error."""
    from replaycodegen.lifecycle.ci.orphans import delete_orphan

    done: list[dict[str, Any]] = []
    for path, orphan in orphans:
        if not _below(path, paths):
            continue
        shown = display_path(path)
        what = _orphan_line(orphan).split(" (", 1)[1]
        record: dict[str, Any] = {**orphan.to_data(), "path": str(path), "removed": False,
                                  "error": None}
        done.append(record)
        if dry_run:
            if not state.as_json:
                state.out.echo(f"{shown}: would remove this orphaned cassette ({what}")
            continue
        try:
            removed = delete_orphan(path)
        except OSError as exc:
            record["error"] = f"{shown}: cannot remove: {exc.strerror or exc}"
            if not state.as_json:
                state.out.error(record["error"])
            continue
        record["removed"] = removed
        if not state.as_json:
            state.out.echo(f"{shown}: " + (f"removed orphaned cassette ({what}" if removed
                                           else "no longer a cassette file; left alone"))
    return done


# -- record --from-ledger -------------------------------------------------------------------


# -- merge-driver ---------------------------------------------------------------------------


def _git_merge_file(ours: str, base: str, theirs: str, marker_size: int) -> int:
    import subprocess

    try:
        done = subprocess.run(["git", "merge-file", f"--marker-size={marker_size}", "-L",
                               "ours", "-L", "ancestor", "-L", "theirs", ours, base, theirs],
                              check=False, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return 1
    return 0 if done.returncode == 0 else 1


@click.command("merge-driver", short_help="Merge three versions of a cassette (for git).")
@click.argument("base", type=click.Path(exists=True, dir_okay=False))
@click.argument("ours", type=click.Path(exists=True, dir_okay=False))
@click.argument("theirs", type=click.Path(exists=True, dir_okay=False))
@click.argument("marker_size", required=False, type=click.IntRange(1, 100), default=7)
@click.argument("path", required=False)
@pass_state
def merge_driver(state: State, base: str, ours: str, theirs: str, marker_size: int,
                 path: str | None) -> None:
    """git's merge driver for cassettes: `replaycodegen merge-driver %O %A %B %L %P`.

    \b
    Set it up once per clone:
      git config merge.replaycodegen.driver "replaycodegen merge-driver %O %A %B %L %P"
    and in .gitattributes:
      tests/cassettes/** merge=replaycodegen

    Merges entry by entry and writes the result into OURS (%A). Exit code 0 for a clean
    merge, 1 when entries conflict (both versions kept between conflict markers, which
    lint and the loader report with file:line).
    """
    from replaycodegen.cassette.loading.loader import read_text
    from replaycodegen.lifecycle.merge_driver import NotMergeable, merge

    name = path or ours
    texts = [read_text(p) for p in (base, ours, theirs)]
    try:
        result = merge(*texts, marker_size=marker_size, path=name)
    except NotMergeable as exc:
        state.out.warning(f"{exc}; merging it as text (git merge-file)")
        raise click.exceptions.Exit(_git_merge_file(ours, base, theirs, marker_size)) from None
    Path(ours).write_text(result.text, encoding="utf-8")
    for old, new in result.renumbered.items():
        state.out.echo(f"{name}: their new entry {old} is now {new} (the id was taken)",
                       err=True)
    if result.conflicts:
        for conflict in result.conflicts:
            state.out.echo(f"{name}: conflict: {conflict}", err=True)
        raise click.exceptions.Exit(1)

