"""Checking parsed cassette data field by field, into ``Entry`` objects.

Every field is type-checked here, so nothing reaches replay as a ``TypeError``. A problem
is an ``Invalid`` naming the field's path (``entries[3].request.user_query``); the loader
turns it into a ``CassetteError`` with the line of that field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON, REQUEST_FIELDS, validate_match_on
from replaycodegen.cassette.loading.foreign import FOREIGN_HINT, VCRPY_CASSETTE
from replaycodegen.cassette.model import (
    CASSETTE_VERSION,
    ORIGINS,
    Cassette,
    Entry,
    Pattern,
    RecordedError,
)
from replaycodegen.errors import CassetteError

TOP_LEVEL_FIELDS = ("version", "description", "match_on", "repeat_last", "entries")
ENTRY_FIELDS = (
    "id",
    "origin",
    "derived_from",
    "description",
    "when",
    "request",
    "error_chain",
    "code",
    "response",
    "meta",
    "scrubbed",
    "key",
)
WHEN_FIELDS = ("request", "attempt", "error_contains")
CHAIN_FIELDS = ("type", "stage", "message", "normalized")
SCRUBBABLE = (*REQUEST_FIELDS, "error_chain")
"""What ``scrubbed:`` may name: request fields, and the error chain."""
FIELD_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "user_query": ((str,), "a string"),
    "task_objective": ((str,), "a string"),
    "execution_folder_name": ((str,), "a string"),
    "expected_results": ((dict,), "a mapping"),
    "capability_prompts": ((list,), "a list of strings"),
    "retries": ((int,), "a whole number"),
    "capability_context_data": ((dict, type(None)), "a mapping or null"),
    "session_context": ((dict, type(None)), "a mapping or null"),
    "execution_folder_path": ((str, type(None)), "a string or null"),
}
"""What each request field may hold in a cassette (the model's field types, as YAML)."""
KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class Invalid(Exception):
    """A field of the data is wrong: where (a path of keys and indexes), what, the fix."""

    def __init__(self, where: Sequence[str | int], message: str, hint: str | None = None):
        super().__init__(message)
        self.where = tuple(where)
        self.message = message
        self.hint = hint


class NotACassetteError(CassetteError):
    """The file is another tool's cassette (``kind``: ``"vcrpy"``), not a replaycodegen one.

    Tools that walk a folder of cassettes (``ls``, ``lint``) skip such files.
    """

    def __init__(self, message: str, *, kind: str, path: str | None = None,
                 hint: str | None = None) -> None:
        self.kind = kind
        super().__init__(message, path=path, hint=hint)

    @property
    def skipped(self) -> str:
        """The line a folder walk prints for it: ``PATH: ...: skipped``."""
        return f"{self.path}: {VCRPY_MESSAGE}" if self.path else VCRPY_MESSAGE


VCRPY_MESSAGE = "a vcrpy HTTP cassette, not a replaycodegen one: skipped"


def is_vcrpy_cassette(data: Any) -> bool:
    """vcrpy's format: a mapping with an ``interactions`` list (and no ``entries``)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("interactions"), list)
        and "entries" not in data
    )


def field_name(where: Sequence[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _expect(
    value: Any, kind: type | tuple[type, ...], where: Sequence[str | int], what: str
) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Invalid(where, f"{field_name(where)} must be {what}, not {type_name(value)}")
    return value


def _check_fields(
    data: Mapping[Any, Any], allowed: Sequence[str], where: Sequence[str | int]
) -> None:
    for name in data:
        if name not in allowed:
            place = field_name(where) or "top level"
            raise Invalid(
                [*where, str(name)],
                f"unknown field {name!r} at {place}",
                f"use one of: {', '.join(allowed)}",
            )


def parse_request(value: Any, where: Sequence[str | int]) -> dict[str, Any]:
    _expect(value, dict, where, "a mapping of request fields")
    for name, field_value in value.items():
        if name not in REQUEST_FIELDS:
            raise Invalid(
                [*where, str(name)],
                f"unknown request field {name!r}",
                f"request fields are: {', '.join(REQUEST_FIELDS)}",
            )
        kinds, what = FIELD_KINDS[name]
        wrong = not isinstance(field_value, kinds) or isinstance(field_value, bool)
        if name == "capability_prompts" and not wrong:
            wrong = not all(isinstance(p, str) for p in field_value)
        if wrong:
            raise Invalid(
                [*where, name],
                f"{field_name([*where, name])} must be {what}, not {type_name(field_value)}",
                "quote the value" if what == "a string" else f"write it as {what}",
            )
    return dict(value)


def _parse_chain(value: Any, where: Sequence[str | int]) -> list[RecordedError]:
    if value is None:
        return []
    _expect(value, list, where, "a list of errors")
    chain = []
    for i, item in enumerate(value):
        at = [*where, i]
        if isinstance(item, str):
            chain.append(RecordedError("", "", item))
            continue
        _expect(item, dict, at, "a mapping with type, stage and message (or a string)")
        _check_fields(item, CHAIN_FIELDS, at)
        if "message" not in item:
            raise Invalid(at, f"{field_name(at)} has no message")
        parts = []
        for name in ("type", "stage", "message"):
            part = item.get(name, "")
            parts.append(_expect("" if part is None else part, str, [*at, name], "a string"))
        if item.get("normalized") is not None:
            _expect(item["normalized"], str, [*at, "normalized"], "a string")
        chain.append(RecordedError(*parts))
    return chain


def parse_when(value: Any, where: Sequence[str | int]) -> Pattern:
    if value is None:
        return Pattern()
    _expect(value, dict, where, "a mapping (use `when: {}` to match any request)")
    _check_fields(value, WHEN_FIELDS, where)
    request = None
    if value.get("request") is not None:
        request = parse_request(value["request"], [*where, "request"])
    attempt = value.get("attempt")
    if attempt is not None:
        _expect(attempt, int, [*where, "attempt"], "a whole number")
        if attempt < 1:
            raise Invalid([*where, "attempt"], "attempt numbers start at 1")
    needles = value.get("error_contains")
    contains: tuple[str, ...] | None = None
    if needles is not None:
        items = [needles] if isinstance(needles, str) else needles
        _expect(items, list, [*where, "error_contains"], "a string or a list of strings")
        for j, needle in enumerate(items):
            _expect(needle, str, [*where, "error_contains", j], "a string")
            if not needle:
                raise Invalid([*where, "error_contains", j], "an empty string matches everything")
        contains = tuple(items)
    return Pattern(request=request, attempt=attempt, error_contains=contains)


def _parse_scrubbed(value: Any, where: Sequence[str | int]) -> list[str]:
    _expect(value, list, where, "a list of request field names (or error_chain)")
    for j, name in enumerate(value):
        at = [*where, j]
        _expect(name, str, at, "a request field name (or error_chain)")
        if name not in SCRUBBABLE:
            raise Invalid(
                at,
                f"{field_name(at)}: {name!r} is not a request field nor error_chain",
                f"use one of: {', '.join(SCRUBBABLE)}",
            )
    return list(value)


def parse_entry(data: Any, index: int) -> Entry:
    """One item of ``entries`` as an ``Entry`` (its key is not derived here)."""
    where: list[str | int] = ["entries", index]
    _expect(data, dict, where, "a mapping")
    _check_fields(data, ENTRY_FIELDS, where)
    if "id" not in data or data["id"] in (None, ""):
        raise Invalid(where, f"entry {index + 1} has no id", "give each entry a unique id")
    entry_id = data["id"]
    if isinstance(entry_id, int) and not isinstance(entry_id, bool):
        entry_id = str(entry_id)
    _expect(entry_id, str, [*where, "id"], "a string")
    if data.get("code") is None:
        raise Invalid(
            [*where],
            f"entry {entry_id!r} has no code",
            "add `code: |` followed by the Python code, indented",
        )
    code = _expect(data["code"], str, [*where, "code"], "a string (use a `|` block)")
    has_request, has_when = "request" in data, "when" in data
    if has_request and has_when:
        raise Invalid(
            where,
            f"entry {entry_id!r} has both request and when",
            "a recorded entry has request (+ error_chain); a hand-authored one has when",
        )
    if not has_request and not has_when:
        raise Invalid(
            where,
            f"entry {entry_id!r} has neither request nor when",
            "add `when: {}` to match any request, or a `request:` mapping",
        )
    entry = Entry(id=entry_id, code=code)
    if has_when:
        if data.get("error_chain"):
            raise Invalid(
                [*where, "error_chain"],
                "a `when` entry has no error_chain",
                "use when.error_contains / when.attempt",
            )
        entry.when = parse_when(data["when"], [*where, "when"])
    else:
        entry.request = parse_request(data["request"], [*where, "request"])
        entry.error_chain = _parse_chain(data.get("error_chain"), [*where, "error_chain"])
    for name in ("description", "response", "derived_from"):
        if data.get(name) is not None:
            setattr(entry, name, _expect(data[name], str, [*where, name], "a string"))
    if data.get("origin") is not None:
        origin = _expect(data["origin"], str, [*where, "origin"], "a string")
        if origin not in ORIGINS:
            raise Invalid(
                [*where, "origin"],
                f"unknown origin {origin!r}",
                f"use one of: {', '.join(ORIGINS)}",
            )
        entry.origin = origin
    if data.get("meta") is not None:
        # Plain data by construction: the YAML builder refuses dates, sets, binary, tags.
        entry.meta = dict(_expect(data["meta"], dict, [*where, "meta"], "a mapping"))
    if data.get("scrubbed") is not None:
        entry.scrubbed = _parse_scrubbed(data["scrubbed"], [*where, "scrubbed"])
    if data.get("key") is not None:
        key = _expect(data["key"], str, [*where, "key"], "a string")
        if not KEY_RE.match(key):
            raise Invalid(
                [*where, "key"],
                "key must be 64 lowercase hex digits (a sha256)",
                "delete the key line: keys are derived; `replaycodegen rehash` rewrites it",
            )
        entry.stored_key = key
    return entry


def last_entry_unfinished(data: Any) -> bool:
    """An entry a recorder stopped writing: it has no ``key`` (written last) and either
    ``meta.recorded_at`` (written first) or nothing but its id, meta and origin."""
    if not isinstance(data, dict) or "key" in data:
        return False
    meta = data.get("meta")
    started = isinstance(meta, dict) and "recorded_at" in meta
    return started or set(data) <= {"id", "meta", "origin"}


def cut_short(entry: Entry) -> bool:
    """A recorded entry that parses but lacks the key a recorder writes last."""
    return entry.request is not None and entry.stored_key is None and "recorded_at" in entry.meta


@dataclass(frozen=True, slots=True)
class Header:
    """The top-level fields, checked; ``match_on`` is the one keys are derived with."""

    description: str | None
    stored_match_on: tuple[str, ...] | None
    repeat_last: bool
    match_on: tuple[str, ...]


def parse_header(data: Any, match_on: Sequence[str] | None, path: str) -> Header:
    """The top-level mapping (``entries`` is checked by the caller)."""
    if is_vcrpy_cassette(data):
        # loading it (to replay, record, craft...) is an error that says whose it is
        raise NotACassetteError(VCRPY_CASSETTE, kind="vcrpy", path=path, hint=FOREIGN_HINT)
    if not isinstance(data, dict):
        raise Invalid(
            [],
            f"a cassette is a YAML mapping with version and entries, not {type_name(data)}",
            "start from `replaycodegen new PATH`",
        )
    _check_fields(data, TOP_LEVEL_FIELDS, [])
    if "version" not in data:
        raise Invalid([], "missing version", f"add `version: {CASSETTE_VERSION}` at the top")
    if data["version"] != CASSETTE_VERSION or isinstance(data["version"], bool):
        if str(data["version"]).strip() == str(CASSETTE_VERSION):
            raise Invalid(
                ["version"],
                f"version must be the number {CASSETTE_VERSION}, not {type_name(data['version'])}",
                f"write `version: {CASSETTE_VERSION}`",
            )
        raise Invalid(
            ["version"],
            f"unsupported cassette version {data['version']!r}; "
            f"this replaycodegen reads version {CASSETTE_VERSION}",
            "upgrade replaycodegen, or fix the version",
        )
    description = data.get("description")
    if description is not None:
        _expect(description, str, ["description"], "a string")
    stored = data.get("match_on")
    stored_match_on: tuple[str, ...] | None = None
    if stored is not None:
        _expect(stored, list, ["match_on"], "a list of request field names")
        try:
            stored_match_on = validate_match_on(stored)
        except (ValueError, TypeError) as exc:
            raise Invalid(["match_on"], str(exc)) from None
    repeat_last = data.get("repeat_last", True)
    _expect(repeat_last, bool, ["repeat_last"], "true or false")
    effective = tuple(match_on) if match_on is not None else (stored_match_on or DEFAULT_MATCH_ON)
    return Header(description, stored_match_on, repeat_last, effective)


def check_entries_value(value: Any) -> list[Any]:
    """The ``entries`` value as a list (absent or null: no entries)."""
    if value is None:
        return []
    _expect(value, list, ["entries"], "a list")
    return list(value)


def derive_keys(entries: Sequence[Entry], match_on: Sequence[str]) -> None:
    """Set ``key`` on every recorded entry (a stale ``stored_key`` is reported, not used)."""
    for entry in entries:
        if entry.request is not None and entry.when is None:
            entry.key, entry.keyed_on_placeholder = entry.derive(match_on)
            if entry.key == entry.stored_key:
                entry.stored_key = entry.key  # one string for both: less memory


def assemble(
    entries: Sequence[Entry], header: Header, match_on: Sequence[str] | None, path: str
) -> Cassette:
    """The cassette of checked entries whose keys are derived: duplicate ids, and the
    ``match_on`` asked for against the file's, are checked here."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        first = seen.get(entry.id)
        if first is not None:
            other = entries[first]
            differs = entry.key != other.key or entry.group_id != other.group_id
            detail = " with a different key" if differs else ""
            raise Invalid(
                ["entries", i, "id"],
                f"duplicate entry id {entry.id!r}{detail} (also entry {first + 1}); "
                "a bad merge or a hand copy?",
                "give each entry a unique id (or delete the copy)",
            )
        seen[entry.id] = i
    stored = header.stored_match_on
    if match_on is not None and stored and tuple(match_on) != stored:
        raise Invalid(
            ["match_on"],
            f"the cassette keys on {list(stored)} but match_on={list(match_on)} was requested",
            "use the cassette's match_on, or re-record it with record mode rewrite",
        )
    cassette = Cassette(
        path=path, match_on=header.match_on, description=header.description,
        repeat_last=header.repeat_last,
    )
    for entry in entries:
        cassette.add(entry, derive=False)
    return cassette
