"""The end-of-session report: cassettes used, entries played, recorded, missed and unused.

Each process keeps a :class:`CodegenLedger`; xdist workers send theirs to the controller
through ``config.workeroutput`` and the controller merges them in ``pytest_testnodedown``
(union of played ids per cassette). An entry is unused when no test in any process played
it. Unused entries are only counted for a cassette whose tests all ran and passed in a
full run: an entry a failed, skipped or deselected test would have played is not unused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from replaycodegen.plural import plural

if TYPE_CHECKING:
    from ._generators import CassetteUse

WORKEROUTPUT_KEY = "replaycodegen"
MAX_IDS_SHOWN = 6


@dataclass
class CassetteTally:
    played: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    misses: int = 0
    users: set[str] = field(default_factory=set)


class CodegenLedger:
    """What the tests of this process did with each cassette, keyed by absolute path."""

    def __init__(self) -> None:
        self.tallies: dict[str, CassetteTally] = {}
        self.expected: dict[str, set[str]] = {}
        """Cassette -> the tests that would use it (from collection)."""
        self.not_run: set[str] = set()
        """Cassettes of deselected tests."""
        self.passed: set[str] = set()
        self.lost_worker = False
        self.entries: dict[str, list[str]] = {}
        """Cassette -> the entry ids it held, from the cassettes in memory (never re-read)."""
        self.tests: dict[str, dict[str, Any]] = {}
        """Test id -> what it did with its cassette (the report's ``tests``)."""
        self.collected: set[str] = set()
        self.deselected: dict[str, str] = {}
        """Deselected test -> the cassette it would use."""
        self.modules: set[str] = set()
        """Test modules collected (for the cassette folders the run covers)."""
        self.would_call: list[dict[str, Any]] = []
        """Dry run: each call that would have gone live (test, cassette, query, attempt,
        why), scrubbed."""

    def add_use(self, use: CassetteUse, test_id: str, *, entry_ids: list[str] | None = None,
                changes: bool = False, misses: list[dict[str, Any]] | None = None) -> None:
        path = str(use.path)
        tally = self.tallies.setdefault(path, CassetteTally())
        tally.played |= use.played
        tally.recorded |= use.recorded
        tally.dropped |= use.dropped
        tally.misses += use.misses
        tally.users.add(test_id)
        if entry_ids is not None and (changes or path not in self.entries):
            known = self.entries.get(path, [])
            self.entries[path] = list(dict.fromkeys([*known, *entry_ids]))
        self.tests[test_id] = {"cassette": path, "played": sorted(use.played),
                               "recorded": sorted(use.recorded), "dropped": sorted(use.dropped),
                               "misses": misses or []}

    def to_wire(self) -> dict[str, Any]:
        """Plain lists and dicts, as execnet can send them."""
        return {
            "tallies": {path: {"played": sorted(t.played), "recorded": sorted(t.recorded),
                               "dropped": sorted(t.dropped), "misses": t.misses,
                               "users": sorted(t.users)} for path, t in self.tallies.items()},
            "expected": {path: sorted(ids) for path, ids in self.expected.items()},
            "not_run": sorted(self.not_run),
            "passed": sorted(self.passed),
            "entries": self.entries, "tests": self.tests, "collected": sorted(self.collected),
            "deselected": self.deselected, "modules": sorted(self.modules),
            "would_call": self.would_call,
        }

    def merge_wire(self, data: dict[str, Any]) -> None:
        for path, raw in data.get("tallies", {}).items():
            tally = self.tallies.setdefault(path, CassetteTally())
            tally.played.update(raw["played"])
            tally.recorded.update(raw["recorded"])
            tally.dropped.update(raw["dropped"])
            tally.misses += int(raw["misses"])
            tally.users.update(raw["users"])
        for path, ids in data.get("expected", {}).items():
            self.expected.setdefault(path, set()).update(ids)
        self.not_run.update(data.get("not_run", ()))
        self.passed.update(data.get("passed", ()))
        for path, ids in data.get("entries", {}).items():
            self.entries[path] = list(dict.fromkeys([*self.entries.get(path, []), *ids]))
        self.tests.update(data.get("tests", {}))
        self.collected.update(data.get("collected", ()))
        self.deselected.update(data.get("deselected", {}))
        self.modules.update(data.get("modules", ()))
        self.would_call.extend(data.get("would_call", ()))


@dataclass
class CassetteReport:
    path: str
    played: list[str]
    recorded: list[str]
    dropped: list[str]
    misses: int
    unused: list[str]
    checked: bool
    """False when unused entries could not be known (see the module docstring)."""


def build_reports(ledger: CodegenLedger, *, partial_run: bool,
                  sharded: bool = False) -> list[CassetteReport]:
    """One report per cassette used. Entry ids come from the cassettes the tests had in
    memory; in a sharded run nothing is checked here (``replaycodegen combine`` does it)."""
    reports = []
    for path in sorted(ledger.tallies):
        tally = ledger.tallies[path]
        users = tally.users | ledger.expected.get(path, set())
        checked = (not partial_run and not sharded and not ledger.lost_worker
                   and path not in ledger.not_run and users <= ledger.passed)
        ids = ledger.entries.get(path) if checked else None
        seen = tally.played | tally.recorded
        unused = [i for i in ids if i not in seen] if ids is not None else []
        reports.append(CassetteReport(
            path, sorted(tally.played - tally.recorded), sorted(tally.recorded),
            sorted(tally.dropped), tally.misses, unused, ids is not None))
    return reports


def unused_count(reports: Iterable[CassetteReport]) -> int:
    return sum(len(r.unused) for r in reports)


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS_SHOWN])
    return shown + (f", ... ({len(ids) - MAX_IDS_SHOWN} more)" if len(ids) > MAX_IDS_SHOWN else "")


def _counts(played: int, recorded: int, misses: int, unused: int | str | None,
            dropped: int) -> str:
    parts = [f"{played} played", f"{recorded} recorded", plural(misses, "miss", "misses")]
    if unused is not None:
        parts.append(f"{unused} unused")
    if dropped:
        parts.append(f"{dropped} dropped (failed tests)")
    return ", ".join(parts)


def _show(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return path


MAX_CALLS_SHOWN = 20
MAX_CASSETTES_SHOWN = 20
"""Noteworthy cassettes listed without -v: a suite of 1,000 cassettes with unused
entries gets a block, not 1,000 lines (the counts above it cover them all)."""


def render_dry_run(reporter: pytest.TerminalReporter, ledger: CodegenLedger, *,
                   root: Path) -> None:
    """A dry run's list of the calls that would have gone live (nothing was called)."""
    calls = sorted(ledger.would_call, key=lambda c: (c["test"], c["attempt"]))
    reporter.write_sep("=", "replaycodegen dry run")
    if not calls:
        reporter.write_line("no call would have gone live: every request is in its cassette")
        return
    cassettes = {c["cassette"] for c in calls}
    reporter.write_line(
        f"{plural(len(calls), 'call')} would have gone live, into "
        f"{plural(len(cassettes), 'cassette')} (nothing was called or written):")
    for call in calls[:MAX_CALLS_SHOWN]:
        reporter.write_line(
            f"  {call['test']}: request {call['query']!r} (attempt {call['attempt']}) "
            f"-> {_show(call['cassette'], root)} ({call['why']})")
    if len(calls) > MAX_CALLS_SHOWN:
        reporter.write_line(f"  ... ({len(calls) - MAX_CALLS_SHOWN} more)")


def render(reporter: pytest.TerminalReporter, reports: list[CassetteReport], *, unused: str,
           report_path: Path | None, root: Path) -> None:
    """One short block in pytest's terminal style; cassettes listed when noteworthy (or -v)."""
    if not reports:
        return
    show_unused = unused != "ignore"
    verbose = reporter.config.get_verbosity() > 0
    total_unused = unused_count(reports)
    reporter.write_sep("=", "replaycodegen cassettes")
    reporter.write_line(plural(len(reports), "cassette") + " used: " + _counts(
        sum(len(r.played) for r in reports), sum(len(r.recorded) for r in reports),
        sum(r.misses for r in reports), total_unused if show_unused else None,
        sum(len(r.dropped) for r in reports)))
    shown = 0
    for r in reports:
        noteworthy = r.recorded or r.misses or r.dropped or (show_unused and r.unused)
        if not (verbose or noteworthy):
            continue
        shown += 1
        if shown > MAX_CASSETTES_SHOWN and not verbose:
            continue
        unused_shown = (len(r.unused) if r.checked else "?") if show_unused else None
        line = f"  {_show(r.path, root)}: " + _counts(
            len(r.played), len(r.recorded), r.misses, unused_shown, len(r.dropped))
        if show_unused and r.unused:
            line += f" [unused: {_ids(r.unused)}]"
        reporter.write_line(line)
    if shown > MAX_CASSETTES_SHOWN and not verbose:
        where = f" ({report_path} has them all)" if report_path else ""
        reporter.write_line(f"  ... ({shown - MAX_CASSETTES_SHOWN} more cassettes; -v lists "
                            f"them all{where})")
    if not show_unused:
        return
    unchecked = [r for r in reports if not r.checked]
    if unchecked:
        reporter.write_line(
            f"? unused: not checked in {plural(len(unchecked), 'cassette')}, because a test "
            "using it failed, was skipped or deselected, or only part of the suite ran")
    if total_unused:
        source = str(report_path) if report_path else "REPORT.json"
        hint = "" if report_path else " (run pytest with --codegen-report=REPORT.json)"
        reporter.write_line(f"remove unused entries with `replaycodegen prune --unused-from "
                            f"{source}`{hint}")
    if total_unused and unused == "fail":
        count = plural(total_unused, "unused cassette entry", "unused cassette entries")
        reporter.write_line(f"FAILED: {count} and --codegen-unused=fail", red=True, bold=True)
