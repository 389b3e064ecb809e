"""The lines the CI-at-scale features add to the end-of-session block: the shard, orphaned
cassettes, where the report and the miss ledger went."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.lifecycle.ci.reports import RunReport

    from ._report import CodegenLedger
    from ._shard import RunIdentity

RUN_REPORT_KEY = pytest.StashKey[tuple["RunReport", "Path | None"]]()
MAX_ORPHANS_SHOWN = 10


def _show(path: Path | str, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)


def render_lifecycle(reporter: pytest.TerminalReporter, ident: RunIdentity,
                     report: RunReport | None, report_file: Path | None,
                     ledger: CodegenLedger) -> None:
    root = reporter.config.rootpath
    lines: list[str] = []
    if report_file is not None:
        lines.append(f"report: {_show(report_file, root)}")
        if ident.shard.sharded:
            lines.append(f"shard {ident.shard.label} ({ident.shard.source}): unused entries and "
                         "orphaned cassettes are decided across shards: `replaycodegen combine "
                         "REPORTS... -o combined.json`")
    if report is not None and report.orphans:
        lines.append(f"{plural(len(report.orphans), 'orphaned cassette file')}: no collected "
                     "test owns "
                     "them (remove with `replaycodegen prune --unused-from REPORT.json "
                     "--orphans`)")
        for orphan in report.orphans[:MAX_ORPHANS_SHOWN]:
            renamed = (f" (likely renamed to {', '.join(orphan.likely_renamed_to)})"
                       if orphan.likely_renamed_to else "")
            lines.append(f"  {_show(Path(root, orphan.path), root)}: "
                         f"{plural(orphan.entries, 'entry')}{renamed}")
        if len(report.orphans) > MAX_ORPHANS_SHOWN:
            lines.append(f"  ... {len(report.orphans) - MAX_ORPHANS_SHOWN} more in the report")
    if ident.ledger_path is not None:
        count = sum(len(t["misses"]) for t in ledger.tests.values())
        shown = _show(ident.ledger_path, root)
        hint = f"; record them with `replaycodegen record --from-ledger {shown}`" if count else ""
        lines.append(f"miss ledger: {plural(count, 'miss')} in {shown}{hint}")
    if not lines:
        return
    if not ledger.tallies:
        reporter.write_sep("=", "replaycodegen cassettes")
    for line in lines:
        reporter.write_line(line)
