"""Explaining a miss: the reason, the closest entries with a field-by-field diff, the fix."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from replaycodegen.cassette.keys import (
    DEFAULT_MATCH_ON,
    canonical_json,
    key_chain,
    request_fields,
)
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import PLACEHOLDER
from replaycodegen.errors import CassetteMiss
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest, error_text
from replaycodegen.plural import plural
from replaycodegen.shipped import doc_path

NO_SUCH_CASSETTE = "no such cassette"
NO_MATCH = "no match"
ALL_PLAYED = "all matches already played"

MAX_CLOSEST = 3
_VALUE_WIDTH = 70


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else canonical_json(value).decode("utf-8")
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 3] + "..."


def _diff(entry: Entry, fields: dict[str, Any], chain: list[list[str]]) -> list[str]:
    assert entry.request is not None
    lines = []
    for name, now in fields.items():
        recorded = entry.request.get(name)
        if canonical_json(recorded) != canonical_json(now):
            lines.append(f"{name}: recorded {_short(recorded)} != now {_short(now)}")
    stored = [e.key_fields() for e in entry.error_chain]
    if len(stored) != len(chain):
        lines.append(f"error_chain: recorded {plural(len(stored), 'error')} != now "
                     f"{len(chain)}")
    for i, (old, new) in enumerate(zip(stored, chain, strict=False)):
        for label, a, b in zip(("type", "stage", "message"), old, new, strict=True):
            if a != b:
                lines.append(f"error_chain[{i}].{label}: recorded {_short(a)} != now {_short(b)}")
    return lines


def _pattern_mismatch(entry: Entry, fields: dict[str, Any], attempt: int, text: str) -> list[str]:
    when = entry.when
    assert when is not None
    lines = []
    if when.attempt is not None and when.attempt != attempt:
        lines.append(f"when.attempt: {when.attempt} != now attempt {attempt}")
    if when.error_contains is not None and not any(n.lower() in text for n in when.error_contains):
        lines.append(f"when.error_contains: none of {list(when.error_contains)} in the error chain")
    for name, expected in (when.request or {}).items():
        if canonical_json(fields.get(name)) != canonical_json(expected):
            lines.append(
                f"when.request.{name}: {_short(expected)} != now {_short(fields.get(name))}"
            )
    return lines


def explain_miss(
    cassette: Cassette | None,
    request: PythonExecutionRequest,
    error_chain: Sequence[ErrorChainItem],
    *,
    reason: str,
    key: str | None = None,
    cassette_path: str | None = None,
    fix: str | None = None,
) -> CassetteMiss:
    """Build the ``CassetteMiss`` a user sees; O(entries), paid only on a miss."""
    path = cassette_path or (cassette.path if cassette is not None else None) or "<in-memory>"
    attempt = len(error_chain) + 1
    lines = [f"replaycodegen: no cassette entry for this request ({reason})"]
    count = len(cassette) if cassette is not None else 0
    size = f" ({plural(count, 'entry')})" if cassette is not None else ""
    lines.append(f"  cassette: {path}{size}")
    lines.append(
        f"  request: user_query={_short(request.user_query)}, attempt {attempt}"
        f" (error chain of {len(error_chain)})"
    )
    if error_chain:
        lines.append(f"  last error: {_short(error_text(error_chain[-1]))}")
    if key:
        lines.append(f"  key: {key}")
    closest_ids: list[str] = []
    if cassette is not None and cassette.entries:
        fields = request_fields(request, cassette.match_on)
        chain = key_chain(error_chain)
        text = "\n".join(error_text(item) for item in error_chain).lower()
        scored: list[tuple[int, int, Entry, list[str]]] = []
        for order, entry in enumerate(cassette.entries):
            if entry.is_pattern:
                diff = _pattern_mismatch(entry, fields, attempt, text)
                score = len(diff)
            else:
                diff = _diff(entry, fields, chain)
                # a missing or extra error weighs as much as its type, stage and message
                score = len(diff) + 2 * abs(len(entry.error_chain) - len(chain))
            scored.append((score, order, entry, diff))
        scored.sort(key=lambda item: (item[0], item[1]))
        lines.append("  closest entries:")
        for _score, _order, entry, diff in scored[:MAX_CLOSEST]:
            count = len(diff)
            closest_ids.append(entry.id)
            kind = f"pattern ({entry.when.describe()})" if entry.when is not None else "recorded"
            line = _entry_line(cassette, _order)
            where = f", line {line}" if line else ""
            if count == 0 and reason == ALL_PLAYED:
                lines.append(f"    - {entry.id} [{kind}{where}]: matches, but already played")
                continue
            lines.append(f"    - {entry.id} [{kind}{where}]: {plural(count, 'difference')}")
            if not entry.scrubbed and any(PLACEHOLDER in d.split(" != now ")[0] for d in diff):
                lines.append(
                    "        it was recorded with a secret scrubbed out (<SCRUBBED>); replay "
                    "scrubs a request only of the secrets it knows: set the same secret "
                    "environment variable, or pass it with secrets=[...]"
                )
            if entry.scrubbed:
                lines.append(
                    f"        its {', '.join(entry.scrubbed)} held a secret that was scrubbed "
                    "when it was recorded: it matches the original text (key pinned), not "
                    "the <SCRUBBED> text shown"
                )
            lines.extend(f"        {d}" for d in diff[:6])
            if len(diff) > 6:
                lines.append(f"        ... {len(diff) - 6} more")
    if fix is None:
        match_on = cassette.match_on if cassette is not None else DEFAULT_MATCH_ON
        fix = default_fix(path, reason, request, match_on)
    lines.append(f"  how to fix: {fix}")
    return CassetteMiss(
        "\n".join(lines), reason=reason, cassette_path=path, key=key, closest=closest_ids, fix=fix
    )


def _entry_line(cassette: Cassette, index: int) -> int | None:
    if not cassette.path:
        return None
    try:
        with open(cassette.path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    from replaycodegen.cassette.yamlio import line_of  # only a miss needs YAML

    return line_of(text, ["entries", index])


RECORD_QUERY_FIELDS = ("user_query", "task_objective")
_ALWAYS_RECORDED = ("retries",)
"""Not keyed, but a miss at attempt 3 is only reached again with as many attempts."""


def _non_default_fields(
    request: PythonExecutionRequest, match_on: Sequence[str]
) -> dict[str, Any]:
    fields = PythonExecutionRequest.model_fields
    out: dict[str, Any] = {}
    for name in (*match_on, *_ALWAYS_RECORDED):
        if name in RECORD_QUERY_FIELDS or name not in fields or name in out:
            continue
        value = getattr(request, name)
        if value != fields[name].get_default(call_default_factory=True):
            out[name] = value
    return out


def record_command(
    path: str,
    mode: str,
    request: PythonExecutionRequest | None,
    match_on: Sequence[str] = DEFAULT_MATCH_ON,
) -> str:
    """The ``replaycodegen record`` command that records ``request`` into ``path``, quoted
    for a POSIX shell: ``--query``/``--objective``, or ``--request JSON`` when other keyed
    fields are not their defaults."""
    parts = ["replaycodegen", "record", "--cassette", shlex.quote(path), "--mode", mode]
    if request is None:
        return " ".join([*parts, "--query", "QUERY", "--objective", "OBJECTIVE"])
    extra = _non_default_fields(request, match_on)
    if not extra:
        return " ".join([*parts, "--query", shlex.quote(request.user_query),
                         "--objective", shlex.quote(request.task_objective)])
    data = {name: getattr(request, name) for name in RECORD_QUERY_FIELDS} | extra
    text = canonical_json(data).decode("utf-8")
    return " ".join([*parts, "--request", shlex.quote(text)])


def default_fix(
    path: str,
    reason: str,
    request: PythonExecutionRequest | None = None,
    match_on: Sequence[str] = DEFAULT_MATCH_ON,
) -> str:
    """The advice outside pytest: a ``replaycodegen record`` command that runs as printed
    (it needs an API key: OPENAI_API_KEY, or any value for a local server)."""
    if path.startswith("<"):
        return ("this cassette lives in memory: add an entry for the request (set_code, "
                "Cassette.add), or replay a cassette file recorded for it")
    command = record_command(path, "new_episodes", request, match_on)
    if reason == ALL_PLAYED:
        return (
            "the request was made more often than recorded: set `repeat_last: true` in the "
            f"cassette, or record the extra calls (needs an API key): `{command}`"
        )
    return (
        f"record it (needs an API key, e.g. OPENAI_API_KEY): `{command}`; or craft an entry "
        f"by hand (`replaycodegen edit {shlex.quote(path)} ENTRY`, "
        f"{doc_path('cassette-format.md')}); if the request changed on purpose, re-record "
        "with --mode all"
    )
