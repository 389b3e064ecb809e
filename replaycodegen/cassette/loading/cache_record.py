"""A parsed cassette as plain JSON data, and back, checked like input (see ``cache``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

from replaycodegen.cassette.loading.validate import (
    FIELD_KINDS,
    KEY_RE,
    SCRUBBABLE,
    Invalid,
    parse_when,
)
from replaycodegen.cassette.model import ORIGINS, Cassette, Entry, RecordedError


class BadCacheFile(Exception):
    """A cache file that is not what this version writes (ignored, then replaced)."""


Note: TypeAlias = tuple[int | None, str]

_SAME = 1
"""``stored_key`` equal to the derived key (most entries): written once."""
_KEY = KEY_RE
_SCRUBBABLE = frozenset(SCRUBBABLE)
_ORIGINS = frozenset(ORIGINS)
_REQUEST_TYPES: dict[str, frozenset[type]] = {
    name: frozenset(kinds) for name, (kinds, _what) in FIELD_KINDS.items()
}


def _entry_record(entry: Entry) -> list[Any]:
    stored: Any = entry.stored_key
    if stored is not None and stored == entry.key:
        stored = _SAME
    chain = [[e.type, e.stage, e.message] for e in entry.error_chain] or None
    when = entry.when.to_data() if entry.when is not None else None
    return [
        entry.id, entry.code, entry.request, chain, when, stored, entry.key, entry.response,
        entry.meta or None, entry.scrubbed or None, entry.description, entry.origin,
        entry.derived_from, entry.keyed_on_placeholder,
    ]


RECORDS_PER_LINE = 1000
"""Entries per line of a cache file: reading or writing one never holds more in JSON."""


def record_fields(cassette: Cassette, notes: Sequence[Note]) -> dict[str, Any]:
    """The cassette's own fields and warnings (its path is not part of them), for the
    cache file's first line."""
    return {
        "match_on": list(cassette.match_on),
        "description": cassette.description,
        "repeat_last": cassette.repeat_last,
        "torn_tail": cassette.torn_tail,
        "notes": [[line, message] for line, message in notes],
        "entries": len(cassette.entries),
    }


def record_lines(cassette: Cassette) -> Iterator[str]:
    """The entries of a parsed cassette as JSON lines, a batch per line."""
    entries = cassette.entries
    for start in range(0, len(entries), RECORDS_PER_LINE):
        batch = [_entry_record(entry) for entry in entries[start:start + RECORDS_PER_LINE]]
        yield json.dumps(batch, ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise BadCacheFile(what)


def _optional_str(value: Any, what: str) -> str | None:
    _check(value is None or type(value) is str, what)
    return value  # type: ignore[no-any-return]


def _request_ok(request: Any) -> bool:
    """The types ``validate.parse_request`` allows, checked lean: JSON builds exact types,
    so an exact type test is enough (``True`` is not an int here)."""
    if type(request) is not dict:
        return False
    for name, value in request.items():
        allowed = _REQUEST_TYPES.get(name)
        if allowed is None or type(value) not in allowed:
            return False
        if name == "capability_prompts" and value and not all(type(p) is str for p in value):
            return False
    return True


def _chain_from(chain: Any) -> list[RecordedError]:
    out: list[RecordedError] = []
    _check(type(chain) is list, "chain")
    for item in chain:
        _check(type(item) is list and len(item) == 3 and type(item[0]) is str
               and type(item[1]) is str and type(item[2]) is str, "chain item")
        out.append(RecordedError(item[0], item[1], item[2]))
    return out


def _entry_from(record: Any) -> Entry:
    _check(type(record) is list and len(record) == 14, "entry record")
    (entry_id, code, request, chain, when, stored, key, response, meta, scrubbed,
     description, origin, derived_from, placeholder) = record
    pattern = None
    if request is not None:
        # The derived key: a string of 64 characters (a forged one only fails to match).
        recorded = when is None and type(key) is str and len(key) == 64
        _check(recorded and _request_ok(request), "request")
    else:
        _check(type(when) is dict and key is None and chain is None, "when")
        try:
            pattern = parse_when(when, ["when"])
        except Invalid:
            raise BadCacheFile("when") from None
    if stored == _SAME and type(stored) is int:
        stored = key
    _check(
        type(entry_id) is str and entry_id != "" and type(code) is str
        and (stored is None or (type(stored) is str and _KEY.match(stored) is not None))
        and (meta is None or type(meta) is dict)  # JSON: plain data with string keys
        and (scrubbed is None or (type(scrubbed) is list
                                  and all(name in _SCRUBBABLE for name in scrubbed)))
        and (origin is None or origin in _ORIGINS)
        and (response is None or type(response) is str)
        and (description is None or type(description) is str)
        and (derived_from is None or type(derived_from) is str)
        and type(placeholder) is bool,
        "entry fields",
    )
    # Positional, in the dataclass's field order: the fastest way to build 10,000 of them.
    return Entry(
        entry_id, code, request, [] if chain is None else _chain_from(chain), pattern, stored,
        key, response,
        meta or {}, scrubbed or [], description, origin, derived_from, placeholder,
    )


_MATCH_ON: dict[tuple[str, ...], tuple[str, ...]] = {}
"""``match_on`` lists already validated (a suite's cassettes share a handful)."""


def _match_on(value: Any) -> tuple[str, ...]:
    from replaycodegen.cassette.keys import validate_match_on

    _check(type(value) is list and all(type(m) is str for m in value), "match_on")
    asked = tuple(value)
    found = _MATCH_ON.get(asked)
    if found is None:
        try:
            found = validate_match_on(asked)
        except ValueError:
            raise BadCacheFile("match_on") from None
        if len(_MATCH_ON) < 64:
            _MATCH_ON[asked] = found
    return found


def read_record(head: dict[str, Any], lines: Iterator[bytes | str],
                path: str) -> tuple[Cassette, list[Note]]:
    """The cassette and warnings of :func:`record_fields` (in ``head``) and
    :func:`record_lines`; anything unexpected (a wrong type, a missing or extra line) is
    ``BadCacheFile``."""
    notes: Any = head.get("notes")
    count: Any = head.get("entries")
    _check(type(notes) is list and type(count) is int, "shape")
    match_on = _match_on(head.get("match_on"))
    repeat_last: Any = head.get("repeat_last")
    torn: Any = head.get("torn_tail")
    _check(type(repeat_last) is bool and type(torn) is bool, "flags")
    cassette = Cassette(
        path=path, match_on=match_on,
        description=_optional_str(head.get("description"), "description"),
        repeat_last=repeat_last,
    )
    cassette.torn_tail = torn
    add, ids = cassette.add, set()
    for line in lines:
        batch = json.loads(line)
        _check(type(batch) is list, "entries")
        for item in batch:
            entry = _entry_from(item)
            if entry.id in ids:
                raise BadCacheFile("duplicate id")
            ids.add(entry.id)
            add(entry, derive=False)
    _check(len(cassette.entries) == count, "entry count")
    out: list[Note] = []
    for note in notes:
        _check(type(note) is list and len(note) == 2 and type(note[1]) is str
               and (note[0] is None or type(note[0]) is int), "note")
        out.append((note[0], note[1]))
    return cassette, out
