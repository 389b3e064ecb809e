"""``replaycodegen status``: which entries a live run would no longer answer the same way.

For every entry, with no live call and no key: *fresh*, *kept* (crafted and hand entries,
which re-recording never replaces), or *stale* with the reasons:

- ``prompt-changed``: the prompt builder renders, for the entry's stored request and error
  chain, a prompt whose sha256 differs from the recorded one (see
  ``generation.prompt_check`` for what is stored and what is not);
- ``model-changed``: the configured model differs from the recorded one (a dated snapshot
  of the configured model, such as ``gpt-4o-mini-2024-07-18`` for ``gpt-4o-mini``, counts
  as the same);
- ``expired``: ``meta.recorded_at`` is older than the maximum age;
- ``hand-edited``: the code no longer has the sha256 the recorder stored.

``replaycodegen record PATHS --stale`` re-records exactly the stale entries.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette, read_text
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.provenance import HAND_EDITED_HINT, hand_edited, is_kept
from replaycodegen.errors import CassetteError
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.generation.prompt_check import (
    DEFAULT_MAX_ERRORS_IN_PROMPT,
    stored_prompt_sha256,
)
from replaycodegen.lifecycle.freshness.expiry import age_of, describe_age

FRESH, STALE, KEPT = "fresh", "stale", "kept"
PROMPT_CHANGED = "prompt-changed"
MODEL_CHANGED = "model-changed"
EXPIRED = "expired"
HAND_EDITED = "hand-edited"
LABELS = {PROMPT_CHANGED: "prompt changed", MODEL_CHANGED: "model changed",
          EXPIRED: "expired", HAND_EDITED: "hand-edited"}


@dataclass(frozen=True)
class FreshnessPolicy:
    """What "fresh" means: the prompt builder and model a re-recording would use, and the
    maximum age. ``None`` skips that check (the prompt check needs a builder)."""

    prompt_builder: PromptBuilder | None = None
    model: str | None = None
    max_age: _dt.timedelta | None = None
    max_age_text: str | None = None
    max_errors_in_prompt: int | None = DEFAULT_MAX_ERRORS_IN_PROMPT
    now: _dt.datetime | None = None

    @classmethod
    def for_generator(cls, generator: object,
                      max_age: _dt.timedelta | None = None) -> FreshnessPolicy:
        """What "fresh" means for a generator: its prompt builder (else the default one),
        its model and its error limit, with ``max_age``."""
        builder = getattr(generator, "prompt_builder", None)
        model = getattr(generator, "model", None)
        return cls(
            prompt_builder=builder if isinstance(builder, PromptBuilder) else PromptBuilder(),
            model=model if isinstance(model, str) else None,
            max_age=max_age,
            max_errors_in_prompt=getattr(generator, "max_errors_in_prompt",
                                         DEFAULT_MAX_ERRORS_IN_PROMPT),
        )

    def stale_entry_ids(self, cassette: Cassette) -> list[str]:
        """The ids of the entries ``status`` calls stale under this policy, in file order."""
        return stale_entry_ids(cassette, self)

    def to_data(self) -> dict[str, Any]:
        builder = self.prompt_builder
        return {
            "prompt_builder": None if builder is None else type(builder).__qualname__,
            "prompt_version": None if builder is None else builder.version,
            "model": self.model,
            "max_age": self.max_age_text,
        }


@dataclass(frozen=True)
class Reason:
    """Why an entry is stale: ``code`` (``prompt-changed``...) and the details."""

    code: str
    detail: str

    @property
    def message(self) -> str:
        return f"{LABELS[self.code]}: {self.detail}"


@dataclass
class EntryStatus:
    """The freshness of one entry."""

    entry_id: str
    line: int | None
    origin: str
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.origin in ("crafted", "hand"):
            return KEPT
        return STALE if self.reasons else FRESH

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    def describe(self) -> str:
        """What follows the state on a status line: the reasons, or what a kept entry is;
        notes in parentheses ("" for a plain fresh entry)."""
        if self.reasons:
            text = "; ".join(reason.message for reason in self.reasons)
        elif self.state == KEPT:
            text = f"{self.origin} entry, never re-recorded"
        else:
            text = ""
        if self.notes:
            text += (" " if text else "") + "(" + "; ".join(self.notes) + ")"
        return text

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.entry_id, "line": self.line, "origin": self.origin, "state": self.state,
            "reasons": [{"code": r.code, "message": r.message, "detail": r.detail}
                        for r in self.reasons],
            "notes": list(self.notes),
        }


@dataclass
class CassetteStatus:
    """The freshness of every entry of one file; ``error`` when it cannot be loaded."""

    path: str
    entries: list[EntryStatus] = field(default_factory=list)
    error: CassetteError | None = None
    cassette: Cassette | None = None

    @property
    def stale(self) -> list[EntryStatus]:
        return [status for status in self.entries if status.state == STALE]

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "error": None if self.error is None else str(self.error),
            "entries": [status.to_data() for status in self.entries],
        }


def same_model(recorded: str, configured: str) -> bool:
    """Equal names, or ``recorded`` is a dated snapshot of ``configured``."""
    if recorded == configured:
        return True
    return re.fullmatch(re.escape(configured) + r"-\d{4}(?:-\d{2}-\d{2})?", recorded) is not None


def _short(digest: object) -> str:
    return str(digest)[:12]


def _prompt(entry: Entry, match_on: Sequence[str], policy: FreshnessPolicy,
            status: EntryStatus) -> None:
    builder = policy.prompt_builder
    meta = entry.meta
    recorded = meta.get("prompt_sha256")
    if builder is None or entry.request is None:
        return
    if not isinstance(recorded, str) or "prompt_version" not in meta:
        status.notes.append("prompt not checked: no prompt digest was recorded")
        return
    expected = meta.get("prompt_check_sha256")
    exact = not entry.error_chain and set(DEFAULT_MATCH_ON) <= set(match_on)
    if not isinstance(expected, str):
        if not exact:
            what = ("the error chain's code and tracebacks are not stored"
                    if entry.error_chain else "not every prompt field is in match_on")
            status.notes.append(f"prompt not checked: {what}, and the entry was recorded "
                                "before replaycodegen stored meta.prompt_check_sha256")
            return
        expected = recorded
    current = stored_prompt_sha256(builder, entry.request, entry.error_chain,
                                   policy.max_errors_in_prompt)
    if current is None:
        status.notes.append("prompt not checked: the prompt builder cannot render the stored "
                            "request")
        return
    if current != expected:
        was, now = meta.get("prompt_version"), builder.version
        versions = f"prompt version {was} -> {now}" if str(was) != str(now) else (
            f"same prompt version {now}")
        status.reasons.append(Reason(PROMPT_CHANGED, (
            f"the prompt builder now renders a different prompt for this "
            f"request ({versions}; sha256 {_short(expected)} -> {_short(current)})")))


def _model(entry: Entry, policy: FreshnessPolicy, status: EntryStatus) -> None:
    configured = policy.model
    recorded = entry.meta.get("requested_model") or entry.meta.get("model")
    if configured is None or not isinstance(recorded, str) or not recorded:
        return
    if not same_model(recorded, configured):
        status.reasons.append(Reason(MODEL_CHANGED, (
            f"recorded with {recorded!r}, the configured model is "
            f"{configured!r}")))


def _expiry(entry: Entry, policy: FreshnessPolicy, status: EntryStatus) -> None:
    if policy.max_age is None:
        return
    age = age_of(entry.meta.get("recorded_at"), policy.now)
    if age is not None and age > policy.max_age:
        limit = policy.max_age_text or describe_age(policy.max_age)
        status.reasons.append(Reason(EXPIRED, (
            f"recorded {entry.meta['recorded_at']}, {describe_age(age)} ago "
            f"(max age {limit})")))


def check_entry(entry: Entry, match_on: Sequence[str], policy: FreshnessPolicy,
                line: int | None = None) -> EntryStatus:
    """The freshness of one entry (no live call)."""
    status = EntryStatus(entry.id, line, entry.effective_origin)
    if is_kept(entry):
        if entry.derived_from:
            status.notes.append(f"derived from {entry.derived_from}")
        return status
    _prompt(entry, match_on, policy, status)
    _model(entry, policy, status)
    _expiry(entry, policy, status)
    if hand_edited(entry):
        status.reasons.append(Reason(HAND_EDITED, (
            f"the code is not what was recorded; {HAND_EDITED_HINT}")))
    return status


_ID_LINE = re.compile(r"""(?m)^[ ]*- id:[ ]+['"]?([^'"\s#]+)""")


def entry_lines(text: str) -> dict[str, int]:
    """Entry id -> the line of its ``- id:``, from one regex pass (composing the YAML again
    for line numbers would cost more than every check together)."""
    lines: dict[str, int] = {}
    line, last = 1, 0
    for match in _ID_LINE.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        lines.setdefault(match.group(1), line)
    return lines


def check_cassette(cassette: Cassette, policy: FreshnessPolicy, text: str | None = None
                   ) -> CassetteStatus:
    """The freshness of every entry; ``text`` (the file's) gives line numbers."""
    lines = entry_lines(text) if text is not None else {}
    result = CassetteStatus(str(cassette.path), cassette=cassette)
    for entry in cassette.entries:
        result.entries.append(check_entry(entry, cassette.match_on, policy, lines.get(entry.id)))
    return result


def status_file(path: str | os.PathLike[str], policy: FreshnessPolicy) -> CassetteStatus:
    """Load ``path`` (read only) and check it; a file that cannot load has ``error`` set."""
    try:
        text = read_text(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CassetteWarning)
            cassette = parse_cassette(text, str(path))
    except CassetteError as exc:
        return CassetteStatus(str(path), error=exc)
    return check_cassette(cassette, policy, text)


def stale_entry_ids(cassette: Cassette, policy: FreshnessPolicy) -> list[str]:
    """The ids of the entries ``status`` calls stale, in file order."""
    return [s.entry_id for s in check_cassette(cassette, policy).entries if s.state == STALE]
