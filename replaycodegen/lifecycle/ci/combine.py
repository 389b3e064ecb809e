"""``replaycodegen combine``: the reports of every shard (and xdist worker) into one verdict.

The rules, each one guarding against what broke syrupy's unused-snapshot detection under
sharding (a shard sees a subset, so what it did not play may be another shard's):

- an entry is unused only if no shard played it and every test that owns its cassette ran
  and passed in some shard;
- the set of reports must be complete: every shard ``I/N`` present, all with the same
  ``N``; otherwise :class:`IncompleteReports` names what is missing, unless partial
  results are allowed, which are then labelled partial (``prune`` refuses them);
- a shard reported twice (a CI re-run) counts once: the run that started last wins;
- orphaned cassette files are those below the cassette folders that no test collected in
  any shard owns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen.errors import CassetteError, ReplayCodegenError
from replaycodegen.lifecycle.ci.orphans import find_orphans
from replaycodegen.lifecycle.ci.outputs import resolve
from replaycodegen.lifecycle.ci.reports import (
    LegacyReport,
    MissNote,
    OrphanRecord,
    RunReport,
    _Reader,
    parse_orphans,
    read_json,
    report_from_data,
)

COMBINED_FORMAT = "replaycodegen-combined"
COMBINED_VERSION = 1
MAX_NAMED = 5


class IncompleteReports(ReplayCodegenError):
    """The reports do not cover the whole suite; ``reasons`` says what is missing."""

    def __init__(self, reasons: Sequence[str], missing: Sequence[str]) -> None:
        self.reasons = list(reasons)
        self.missing = list(missing)
        super().__init__("the reports do not cover the whole suite: " + "; ".join(reasons))


@dataclass
class CombinedCassette:
    entries: list[str] | None
    played: list[str]
    owners: list[str]
    unused: list[str]
    checked: bool
    not_passed: list[str] = field(default_factory=list)
    """Owners that did not run and pass in any shard (why ``checked`` is false)."""

    def to_data(self) -> dict[str, Any]:
        return {"entries": self.entries, "played": self.played, "owners": self.owners,
                "unused": self.unused, "checked": self.checked, "not_passed": self.not_passed}


@dataclass
class UsedReport:
    file: str
    shard: str
    run_id: str
    started_at: str
    superseded: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"file": self.file, "shard": self.shard, "run_id": self.run_id,
                "started_at": self.started_at, "superseded": self.superseded}


@dataclass
class CombinedReport:
    """What ``combine`` writes and ``prune`` reads."""

    total: int
    present: list[int]
    partial: list[str]
    reports: list[UsedReport]
    roots: list[str]
    cassettes: dict[str, CombinedCassette]
    orphans: list[OrphanRecord]
    file: Path | None = None

    @property
    def complete(self) -> bool:
        return not self.partial

    @property
    def missing(self) -> list[int]:
        return [i for i in range(1, self.total + 1) if i not in self.present]

    def unused(self, base: Path | None = None) -> dict[Path, list[str]]:
        """Unused entry ids per cassette, paths resolved (see ``outputs.resolve``)."""
        return {resolve(name, self.roots, base): c.unused
                for name, c in self.cassettes.items() if c.checked}

    def to_data(self) -> dict[str, Any]:
        return {
            "format": COMBINED_FORMAT, "version": COMBINED_VERSION,
            "complete": self.complete, "partial": self.partial,
            "shards": {"total": self.total, "present": self.present, "missing": self.missing},
            "reports": [r.to_data() for r in self.reports], "roots": self.roots,
            "cassettes": {name: c.to_data() for name, c in self.cassettes.items()},
            "orphans": [o.to_data() for o in self.orphans],
        }


def _latest(reports: Iterable[RunReport]) -> RunReport:
    return max(reports, key=lambda r: (r.started_at, r.finished_at, r.run_id))


def _named(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def select_reports(reports: Sequence[RunReport]) -> tuple[list[RunReport], list[RunReport],
                                                          list[str], list[str], int]:
    """``(used, superseded, reasons the set is incomplete, missing shard labels, N)``."""
    if not reports:
        raise CassetteError("no reports to combine",
                            hint="give the files (or folders) that `pytest --codegen-report` "
                            "wrote in every shard")
    by_shard: dict[tuple[int, int], list[RunReport]] = {}
    for report in reports:
        by_shard.setdefault((report.shard.index, report.shard.total), []).append(report)
    used = [_latest(group) for group in by_shard.values()]
    superseded = [r for group in by_shard.values() for r in group if r not in used]
    used.sort(key=lambda r: (r.shard.total, r.shard.index))
    reasons: list[str] = []
    totals = sorted({r.shard.total for r in used})
    total = totals[-1]
    if len(totals) > 1:
        groups = [f"N={n} ({_named([r.name for r in used if r.shard.total == n])})"
                  for n in totals]
        reasons.append("reports from differently sharded runs: " + ", ".join(groups))
    present = {r.shard.index for r in used if r.shard.total == total}
    missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in present]
    if missing:
        reasons.append(f"missing shard{'s' if len(missing) > 1 else ''} {_named(missing)} "
                       f"(have {_named(sorted(f'{i}/{total}' for i in present))})")
    for report in used:
        reasons.extend(f"shard {report.shard.label} ({report.name}): {why}"
                       for why in report.partial)
    return used, superseded, reasons, missing, total


def _owned(report: RunReport) -> dict[str, set[str]]:
    owned: dict[str, set[str]] = {name: set(tests) for name, tests in report.owned.items()}
    for name, record in report.cassettes.items():
        owned.setdefault(name, set()).update(record.owners, record.users)
    for test, cassette in report.deselected.items():
        owned.setdefault(cassette, set()).add(test)
    for test, use in report.tests.items():
        owned.setdefault(use.cassette, set()).add(test)
    return owned


def combine_reports(reports: Sequence[RunReport], *, allow_partial: bool = False,
                    base: Path | None = None) -> CombinedReport:
    """Combine run reports (see the module docstring). Raises :class:`IncompleteReports`
    for an incomplete set unless ``allow_partial``."""
    used, superseded, reasons, missing, total = select_reports(reports)
    if reasons and not allow_partial:
        raise IncompleteReports(reasons, missing)
    roots = list(dict.fromkeys(r.root for r in used))
    passed = {t for r in used for t in r.passed}
    owners: dict[str, set[str]] = {}
    for report in used:
        for name, tests in _owned(report).items():
            owners.setdefault(name, set()).update(tests)
    cassettes: dict[str, CombinedCassette] = {}
    for name in sorted({n for r in used for n in r.cassettes}):
        records = [r.cassettes[name] for r in used if name in r.cassettes]
        known = [rec.entries for rec in records if rec.entries is not None]
        entries = list(dict.fromkeys(i for ids in known for i in ids)) if known else None
        played = {i for rec in records for i in (*rec.played, *rec.recorded)}
        not_passed = sorted(owners.get(name, set()) - passed)
        checked = entries is not None and not not_passed
        unused = [i for i in entries or [] if i not in played] if checked else []
        cassettes[name] = CombinedCassette(entries, sorted(played), sorted(owners.get(name, ())),
                                           unused, checked, not_passed)
    files: dict[str, Path] = {}
    for report in used:
        for name in report.cassette_files:
            files.setdefault(name, resolve(name, [report.root, *roots], base))
    misses: list[tuple[str, MissNote]] = [(t, m) for r in used for t, rec in r.tests.items()
                                          for m in rec.misses]
    orphans = find_orphans(files, set(owners), misses)
    return CombinedReport(
        total=total, present=sorted({r.shard.index for r in used if r.shard.total == total}),
        partial=reasons,
        reports=[UsedReport(r.name, r.shard.label, r.run_id, r.started_at) for r in used]
        + [UsedReport(r.name, r.shard.label, r.run_id, r.started_at, True) for r in superseded],
        roots=roots, cassettes=cassettes, orphans=orphans)


# -- reading what combine wrote -------------------------------------------------------------


def parse_combined(data: dict[str, Any], file: Path) -> CombinedReport:
    r = _Reader(file)
    shards = r.get(data, "shards", dict, "")
    present = r.get(shards, "present", list, "shards.")
    if not all(isinstance(i, int) for i in present):
        raise r.fail("shards.present", "must be a list of shard numbers")
    cassettes = {}
    for name, raw in r.mapping(data, "cassettes", "").items():
        at = f"cassettes[{name!r}]."
        if not isinstance(raw, dict):
            raise r.fail(at.rstrip("."), "must be an object")
        cassettes[name] = CombinedCassette(
            r.optional_strings(raw, "entries", at), r.strings(raw, "played", at),
            r.strings(raw, "owners", at), r.strings(raw, "unused", at),
            r.get(raw, "checked", bool, at), r.strings(raw, "not_passed", at))
    orphans = parse_orphans(r, data)
    reports = []
    for at, raw in r.objects(data, "reports"):
        reports.append(UsedReport(r.get(raw, "file", str, at), r.get(raw, "shard", str, at),
                                  r.get(raw, "run_id", str, at), r.get(raw, "started_at", str, at),
                                  r.get(raw, "superseded", bool, at, False)))
    return CombinedReport(
        total=r.get(shards, "total", int, "shards."), present=list(present),
        partial=r.strings(data, "partial", ""), reports=reports,
        roots=r.strings(data, "roots", ""), cassettes=cassettes, orphans=orphans, file=file)


def read_any(path: str | os.PathLike[str]) -> RunReport | LegacyReport | CombinedReport:
    """A run report, a version 1 report or a combined report, validated."""
    file = Path(path)
    data = read_json(file)
    if isinstance(data, dict) and data.get("format") == COMBINED_FORMAT:
        if data.get("version") != COMBINED_VERSION:
            raise CassetteError(f"combined report version {data.get('version')!r} is not "
                                f"version {COMBINED_VERSION}", path=str(file),
                                hint="combine the shard reports again with this replaycodegen")
        return parse_combined(data, file)
    return report_from_data(data, file)
