"""Checking cassettes: what ``replaycodegen lint`` reports and what ``--fix`` repairs.

Rules (each finding names file, line, entry and the fix):

- ``load``: the file cannot be loaded (YAML, schema, encoding); nothing else is checked.
- ``torn-tail``: the last entry was cut short by a killed recorder (fixable: dropped).
- ``stale-key``: a stored key disagrees with its request (fixable: recomputed).
- ``duplicate``: same key and same code, or identical pattern and code, twice.
- ``syntax``: code that does not parse, where it is not meant to. Meant to: the entry says
  ``meta: {expect: syntax_error}``, it was crafted with ``inject: syntax_error``, the
  cassette records the service rejecting it (a later attempt's error chain holds the
  SyntaxError).
- ``expect-mismatch``: ``meta.expect: syntax_error`` on code that parses.
- ``secret``: a string the scrubber would replace (fixable: scrubbed on write).
- ``pinned-hash``: an entry of replaycodegen 0.1 keeps the sha256 of its request before
  scrubbing (``scrubbed:``), from which an offline guess can recover a weak secret
  (fixable: keyed on the scrubbed text instead).
- ``shadowed``: a pattern entry that a recorded entry's exact key always answers first
  (``when: {attempt: 1}`` next to a recorded attempt 1 of the same request).
- ``hand-edited``: a recorded entry whose code is not what the recorder wrote
  (``meta.code_sha256``); re-recording would replace it unless it says ``origin: hand``.
- ``expired``: with ``max_age``, a recording older than that (``meta.recorded_at``).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette, read_text
from replaycodegen.cassette.model import Cassette, Entry, RecordedError, request_identity, same_code
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.errors import CassetteError
from replaycodegen.maintenance.craft import (
    EXPECT_SYNTAX_ERROR,
    expects_syntax_error,
    syntax_problem,
)
from replaycodegen.maintenance.entries import EntryLocator
from replaycodegen.maintenance.secret_scan import comment_secret_lines, find_secrets

RULES: dict[str, str] = {
    "load": "the file cannot be loaded",
    "torn-tail": "the last entry was cut short by a killed recorder",
    "stale-key": "a stored key disagrees with its request",
    "duplicate": "an entry repeats another one",
    "syntax": "code that does not parse, where it is not meant to",
    "expect-mismatch": "meta.expect says syntax_error but the code parses",
    "secret": "a secret (API key, token) is stored",
    "pinned-hash": "a key pinned to the sha256 of a request before its secret was scrubbed",
    "shadowed": "a pattern entry that a recorded entry's key always answers first",
    "hand-edited": "a recorded entry's code was edited by hand",
    "expired": "a recording is older than --max-age",
}
FIXABLE_RULES = frozenset({"torn-tail", "stale-key", "secret", "pinned-hash"})
SYNTAX_ERROR_TYPES = ("SyntaxError", "IndentationError", "TabError")
_ITEM_START = re.compile(r"(?m)^[ ]*- id: ")


@dataclass(frozen=True)
class Finding:
    """One problem in one cassette."""

    path: str
    line: int | None
    rule: str
    message: str
    fix: str
    entry: str | None = None

    @property
    def fixable(self) -> bool:
        return self.rule in FIXABLE_RULES

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.rule}: {self.message}; fix: {self.fix}"

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path, "line": self.line, "rule": self.rule, "entry": self.entry,
            "message": self.message, "fix": self.fix, "fixable": self.fixable,
        }


@dataclass
class LintResult:
    """The findings for one file; ``cassette`` is ``None`` when it failed to load."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    cassette: Cassette | None = None
    load_error: CassetteError | None = None

    @property
    def fixable(self) -> list[Finding]:
        return [f for f in self.findings if f.fixable]

    @property
    def unfixable(self) -> list[Finding]:
        return [f for f in self.findings if not f.fixable]


def lint_file(path: str | os.PathLike[str], *, scrubber: Scrubber | None = None,
              max_age: _dt.timedelta | None = None, max_age_text: str | None = None
              ) -> LintResult:
    """Lint one cassette file (read only); ``max_age`` also reports expired recordings."""
    try:
        text = read_text(path)
    except CassetteError as exc:
        return _load_failure(str(path), exc)
    return lint_text(text, str(path), scrubber=scrubber, max_age=max_age,
                     max_age_text=max_age_text)


def lint_text(text: str, path: str, *, scrubber: Scrubber | None = None,
              max_age: _dt.timedelta | None = None, max_age_text: str | None = None
              ) -> LintResult:
    """Lint cassette text; ``path`` is used in messages and to recognise shipped files."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", CassetteWarning)
        try:
            cassette = parse_cassette(text, path)
        except CassetteError as exc:
            return _load_failure(path, exc)
    result = LintResult(path, cassette=cassette)
    locate = EntryLocator(text)
    result.findings += _torn_tail(cassette, text)
    result.findings += _stale_keys(cassette, locate)
    result.findings += _pinned(cassette, locate)
    result.findings += _shadowed(cassette, locate)
    result.findings += _duplicates(cassette, locate)
    result.findings += _syntax(cassette, locate)
    scrubber = scrubber or Scrubber()
    result.findings += _secrets(cassette, locate, scrubber)
    result.findings += _comment_secrets(cassette, text, scrubber)
    result.findings += _freshness(cassette, locate, max_age, max_age_text)
    result.findings.sort(key=lambda f: (f.line or 0))
    return result


def _load_failure(path: str, exc: CassetteError) -> LintResult:
    finding = Finding(path, exc.line, "load", exc.reason, exc.hint or "see the message")
    return LintResult(path, [finding], load_error=exc)


def _finding(cassette: Cassette, line: int | None, rule: str, message: str, fix: str,
             entry: Entry | None = None) -> Finding:
    return Finding(str(cassette.path), line, rule, message, fix, entry.id if entry else None)


def _torn_tail(cassette: Cassette, text: str) -> list[Finding]:
    if not cassette.torn_tail:
        return []
    starts = list(_ITEM_START.finditer(text))
    line = text.count("\n", 0, starts[-1].start()) + 1 if starts else None
    return [_finding(
        cassette, line, "torn-tail",
        "the last entry was cut short (a recording process was killed while writing it)",
        f"`replaycodegen lint --fix {cassette.path}` removes it, or re-record",
    )]


def _stale_keys(cassette: Cassette, locate: EntryLocator) -> list[Finding]:
    out = []
    for index, entry in enumerate(cassette.entries):
        if entry.key_disagrees:
            out.append(_finding(
                cassette, locate.line(index, "key"), "stale-key",
                f"entry {entry.id!r}: the stored key disagrees with its request "
                "(the request wins when replaying)",
                f"`replaycodegen rehash {cassette.path}` (or lint --fix)", entry,
            ))
    return out


def _pinned(cassette: Cassette, locate: EntryLocator) -> list[Finding]:
    return [
        _finding(
            cassette, locate.line(index, "scrubbed"), "pinned-hash",
            f"entry {entry.id!r} keeps the sha256 of its request before a secret was scrubbed "
            "(written by replaycodegen 0.1); an offline guess can recover a weak secret from it",
            f"`replaycodegen rehash {cassette.path}` (or lint --fix) keys it on the scrubbed "
            "text, which replay finds by scrubbing the live request the same way", entry,
        )
        for index, entry in enumerate(cassette.entries)
        if entry.pins_key
    ]


def _chain_text(entry: Entry) -> str:
    parts = []
    for error in entry.error_chain:
        if error.type and not error.message.startswith(error.type):
            parts.append(f"{error.type}: {error.message}")
        else:
            parts.append(error.message)
    return "\n".join(parts).lower()


def _shadowed(cassette: Cassette, locate: EntryLocator) -> list[Finding]:
    """Pattern entries with an attempt that a recorded entry at that attempt satisfies: for
    that request the exact key answers first, so the pattern never plays there."""
    recorded = [e for e in cassette.entries if e.request is not None]
    out = []
    for index, entry in enumerate(cassette.entries):
        when = entry.when
        if when is None or when.attempt is None:
            continue
        for other in recorded:
            attempt = len(other.error_chain) + 1
            fields = {name: other.request.get(name) for name in cassette.match_on
                      if other.request is not None and name in other.request}
            if when.matches(fields, attempt, _chain_text(other)):
                out.append(_finding(
                    cassette, locate.line(index, "when"), "shadowed",
                    f"entry {entry.id!r} can never play: entry {other.id!r}'s key answers "
                    f"first (same request, attempt {attempt})",
                    f"use `replaycodegen craft {cassette.path} --entry {other.id} --inject "
                    "KIND` to play a failure before the recorded code, or delete one of them",
                    entry,
                ))
                break
    return out


def _duplicates(cassette: Cassette, locate: EntryLocator) -> list[Finding]:
    out = []
    seen: dict[str, list[tuple[int, Entry]]] = {}
    for index, entry in enumerate(cassette.entries):
        group = seen.setdefault(entry.group_id, [])
        twin = next((e for _, e in group if same_code(e.code, entry.code)), None)
        group.append((index, entry))
        if twin is None:
            continue
        what = "pattern" if entry.is_pattern else "key"
        out.append(_finding(
            cassette, locate.line(index), "duplicate",
            f"entry {entry.id!r} repeats entry {twin.id!r} (same {what} and same code)",
            f"delete one of them (`replaycodegen show {cassette.path} {entry.id}`)", entry,
        ))
    return out


def _is_syntax_failure(error: RecordedError) -> bool:
    return error.type in SYNTAX_ERROR_TYPES or error.message.startswith(SYNTAX_ERROR_TYPES)


def _recorded_failures(cassette: Cassette) -> set[tuple[bytes, int]]:
    """(request, attempt) pairs whose syntax error a later recorded attempt holds."""
    failed: set[tuple[bytes, int]] = set()
    for entry in cassette.entries:
        if entry.request is None:
            continue
        for position, error in enumerate(entry.error_chain):
            if _is_syntax_failure(error):
                failed.add((request_identity(entry), position + 1))
    return failed


def _syntax(cassette: Cassette, locate: EntryLocator) -> list[Finding]:
    out = []
    recorded_failures = _recorded_failures(cassette)
    for index, entry in enumerate(cassette.entries):
        problem = syntax_problem(entry.code)
        expected = expects_syntax_error(entry)
        if problem is None:
            if entry.meta.get("expect") == EXPECT_SYNTAX_ERROR:
                out.append(_finding(
                    cassette, locate.line(index, "meta"), "expect-mismatch",
                    f"entry {entry.id!r} declares meta.expect: syntax_error but its code parses",
                    "remove the expect marker, or make the code fail to parse", entry,
                ))
            continue
        recorded = entry.request is not None and (
            (request_identity(entry), len(entry.error_chain) + 1) in recorded_failures
        )
        if expected or recorded:
            continue
        lineno = _problem_line(problem)
        line = locate.code_line(index, lineno) if lineno else locate.line(index, "code")
        out.append(_finding(
            cassette, line, "syntax",
            f"entry {entry.id!r}: the code does not parse ({problem})",
            f"`replaycodegen edit {cassette.path} {entry.id}`; if the failure is deliberate, "
            "add `meta: {expect: syntax_error}`", entry,
        ))
    return out


def _problem_line(problem: str) -> int | None:
    match = re.match(r"line (\d+):", problem)
    return int(match.group(1)) if match else None


def _secrets(cassette: Cassette, locate: EntryLocator, scrubber: Scrubber) -> list[Finding]:
    out = []
    index_of = {entry.id: i for i, entry in enumerate(cassette.entries)}
    for entry_id, fields in find_secrets(cassette, scrubber).items():
        index = index_of.get(entry_id)
        top = fields[0].split(".")[0].split("[")[0]
        line = locate.line(index, top) if index is not None else 1
        subject = f"entry {entry_id!r}" if entry_id else "the cassette description"
        out.append(Finding(
            str(cassette.path), line, "secret",
            f"{subject} stores a secret in {', '.join(fields)}",
            f"`replaycodegen scrub {cassette.path}` (or lint --fix), then rotate the key",
            entry_id or None,
        ))
    return out


def _comment_secrets(cassette: Cassette, text: str, scrubber: Scrubber) -> list[Finding]:
    return [Finding(str(cassette.path), line, "secret", "a comment stores a secret",
                    f"`replaycodegen scrub {cassette.path}` (or lint --fix), then rotate the key")
            for line in comment_secret_lines(text, scrubber)]


def _freshness(cassette: Cassette, locate: EntryLocator, max_age: _dt.timedelta | None,
               max_age_text: str | None) -> list[Finding]:
    """``hand-edited`` and ``expired`` findings (``lifecycle.freshness.status``)."""
    from replaycodegen.lifecycle.freshness.status import (
        EXPIRED,
        HAND_EDITED,
        FreshnessPolicy,
        check_entry,
    )

    policy = FreshnessPolicy(max_age=max_age, max_age_text=max_age_text)
    age = f" --max-age {max_age_text}" if max_age_text else ""
    fixes = {
        HAND_EDITED: ("mark `origin: hand` to keep it (re-recording replaces recorded "
                      "entries), or re-record it: `replaycodegen record {path} --entry {id}`"),
        EXPIRED: "re-record it: `replaycodegen record {path} --stale" + age + "`",
    }
    out = []
    for index, entry in enumerate(cassette.entries):
        status = check_entry(entry, cassette.match_on, policy)
        for reason in status.reasons:
            field_name = "code" if reason.code == HAND_EDITED else "meta"
            out.append(_finding(
                cassette, locate.line(index, field_name) or locate.line(index), reason.code,
                f"entry {entry.id!r}: {reason.detail}",
                fixes[reason.code].format(path=cassette.path, id=entry.id), entry,
            ))
    return out
