"""Scoped re-recording: which requests to run again for the entries to re-record, and what
happened to each entry afterwards (for the command line and a pull-request comment).

The entries to re-record are those ``status`` calls stale, or named ones. Each is reached
again by running its stored request through the service with a recorder in record mode
``stale``: entries on the way replay, the targets are re-recorded in place (same id, same
position), calls that reach nothing recorded are new entries. Every other entry of the file
is left as it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from replaycodegen.cassette.model import Cassette, Entry, request_identity, same_code
from replaycodegen.cassette.provenance import is_kept
from replaycodegen.lifecycle.freshness.status import STALE, FreshnessPolicy, check_cassette
from replaycodegen.models import PythonExecutionRequest
from replaycodegen.plural import plural

CODE_CHANGED = "code changed"
UNCHANGED = "unchanged"
NEW = "new"
NOT_REACHED = "no longer reached"
KEPT = "kept"
DIFF_LINES = 20
"""A "short diff": at most this many lines of unified diff per entry."""


@dataclass
class RerecordPlan:
    """The entries of one cassette to re-record, why, and the requests that reach them."""

    path: str
    targets: list[str]
    reasons: dict[str, list[str]]
    requests: list[PythonExecutionRequest]
    before: dict[str, Entry]
    identities: set[bytes]

    def describe_target(self, entry_id: str) -> str:
        why = self.reasons.get(entry_id) or ["asked for (--entry)"]
        return f"{entry_id}: " + "; ".join(why)


def plan_rerecord(cassette: Cassette, *, policy: FreshnessPolicy | None,
                  entry_ids: Sequence[str] = (), folder_prefix: str = "rerecord"
                  ) -> RerecordPlan:
    """The plan for ``cassette``: its stale entries (when ``policy`` is given) and
    ``entry_ids``; a ``ValueError`` names an unknown id or one that cannot be re-recorded."""
    by_id = {entry.id: entry for entry in cassette.entries}
    reasons: dict[str, list[str]] = {}
    if policy is not None:
        for status in check_cassette(cassette, policy).entries:
            if status.state == STALE:
                reasons[status.entry_id] = [r.message for r in status.reasons]
    for entry_id in entry_ids:
        entry = by_id.get(entry_id)
        if entry is None:
            raise ValueError(f"{cassette.path}: no entry {entry_id!r} (ids: "
                             f"{', '.join(by_id) or 'none'})")
        if is_kept(entry):
            raise ValueError(f"{cassette.path}: entry {entry_id!r} is {entry.effective_origin}: "
                             "re-recording never replaces crafted or hand entries; edit it "
                             "instead (`replaycodegen edit`)")
        if entry.request is None:
            raise ValueError(f"{cassette.path}: entry {entry_id!r} has no recorded request to "
                             "re-record")
        reasons.setdefault(entry_id, [])
    targets = [entry.id for entry in cassette.entries if entry.id in reasons]
    requests: list[PythonExecutionRequest] = []
    identities: set[bytes] = set()
    for entry_id in targets:
        entry = by_id[entry_id]
        identity = request_identity(entry)
        if identity in identities:
            continue
        identities.add(identity)
        fields: dict[str, Any] = dict(entry.request or {})
        fields.setdefault("execution_folder_name", f"{folder_prefix}-{len(requests) + 1}")
        requests.append(PythonExecutionRequest(**fields))
    return RerecordPlan(str(cassette.path), targets, reasons, requests,
                        {entry.id: entry for entry in cassette.entries}, identities)


@dataclass
class EntryResult:
    """What happened to one entry."""

    entry_id: str
    outcome: str
    what: str
    diff: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"id": self.entry_id, "outcome": self.outcome, "request": self.what,
                "diff": list(self.diff)}


def _what(entry: Entry) -> str:
    query = str((entry.request or {}).get("user_query", "")).strip()
    if len(query) > 60:
        query = query[:57] + "..."
    return f"request {query!r}, attempt {len(entry.error_chain) + 1}"


def short_diff(before: str, after: str, label: str) -> list[str]:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                      f"{label} (before)", f"{label} (after)", lineterm=""))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... ({len(lines) - DIFF_LINES} more diff lines)"]
    return lines


def summarize(plan: RerecordPlan, cassette: Cassette, recorded: Iterable[Entry],
              played_ids: Iterable[str], unfinished: dict[bytes, str] | None = None
              ) -> list[EntryResult]:
    """Per entry of the affected requests: code changed (with a short diff), unchanged,
    new, no longer reached, or kept; in file order. ``unfinished``: request identity ->
    why its run stopped early (budget, Ctrl-C...): its entries not reached say so."""
    unfinished = unfinished or {}
    recorded_ids = {entry.id for entry in recorded}
    played = set(played_ids) | recorded_ids
    results = []
    for entry in cassette.entries:
        old = plan.before.get(entry.id)
        affected = entry.request is not None and request_identity(entry) in plan.identities
        if entry.id in plan.targets and entry.id in recorded_ids and old is not None:
            if same_code(old.code, entry.code):
                results.append(EntryResult(entry.id, UNCHANGED, _what(entry)))
            else:
                results.append(EntryResult(entry.id, CODE_CHANGED, _what(entry),
                                           short_diff(old.code, entry.code, entry.id)))
        elif old is None and entry.id in recorded_ids:
            results.append(EntryResult(entry.id, NEW, _what(entry)))
        elif affected and is_kept(entry):
            results.append(EntryResult(entry.id, KEPT, _what(entry)))
        elif affected and entry.id not in played:
            stopped = unfinished.get(request_identity(entry))
            if stopped is not None:
                outcome = f"not re-recorded ({stopped})" if entry.id in plan.targets else (
                    f"not reached ({stopped})")
            else:
                outcome = NOT_REACHED + (" (so not re-recorded)" if entry.id in plan.targets
                                         else "")
            results.append(EntryResult(entry.id, outcome, _what(entry)))
    return results


def to_markdown(results: Sequence[tuple[str, list[EntryResult]]], *, dry_run: bool = False
                ) -> str:
    """The summary as Markdown for a pull-request comment: a table per cassette, diffs
    folded in ``<details>``."""
    total = sum(len(r) for _, r in results)
    changed = sum(1 for _, r in results for e in r if e.outcome == CODE_CHANGED)
    title = "would re-record" if dry_run else "re-recorded"
    lines = [f"### replaycodegen {title}: {plural(total, 'entry')}, "
             f"{changed} with changed code", ""]
    for path, entries in results:
        lines += [f"**`{path}`**", ""]
        if not entries:
            lines += ["nothing to re-record", ""]
            continue
        lines += ["| entry | result | request |", "|---|---|---|"]
        lines += [f"| `{e.entry_id}` | {e.outcome} | {_cell(e.what)} |" for e in entries]
        lines.append("")
        for entry in entries:
            if entry.diff:
                lines += [f"<details><summary><code>{entry.entry_id}</code>: code diff"
                          "</summary>", "", "```diff", *entry.diff, "```", "", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
