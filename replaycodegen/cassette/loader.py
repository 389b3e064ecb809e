"""Reading cassettes: safe YAML, strict validation with file:line errors, keys recomputed.

Loading never modifies the file. The happy path is one C-speed ``yaml.load`` plus a cheap
walk; line numbers are looked up (a second parse) only when something is wrong.
"""

from __future__ import annotations

import gc
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.foreign import FOREIGN_HINT, foreign_kind
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON, REQUEST_FIELDS, validate_match_on
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
_FIELD_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
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
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class CassetteWarning(UserWarning):
    """Something in a cassette is suspicious but usable (a stale key, a torn last entry)."""


class _Invalid(Exception):
    def __init__(self, where: Sequence[str | int], message: str, hint: str | None = None):
        super().__init__(message)
        self.where = tuple(where)
        self.message = message
        self.hint = hint


def _field_name(where: Sequence[str | int]) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _type_name(value: Any) -> str:
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
        raise _Invalid(where, f"{_field_name(where)} must be {what}, not {_type_name(value)}")
    return value


def _check_fields(
    data: Mapping[Any, Any], allowed: Sequence[str], where: Sequence[str | int]
) -> None:
    for name in data:
        if name not in allowed:
            place = _field_name(where) or "top level"
            raise _Invalid(
                [*where, str(name)],
                f"unknown field {name!r} at {place}",
                f"use one of: {', '.join(allowed)}",
            )


def _parse_request(value: Any, where: Sequence[str | int]) -> dict[str, Any]:
    _expect(value, dict, where, "a mapping of request fields")
    for name, field_value in value.items():
        if name not in REQUEST_FIELDS:
            raise _Invalid(
                [*where, str(name)],
                f"unknown request field {name!r}",
                f"request fields are: {', '.join(REQUEST_FIELDS)}",
            )
        kinds, what = _FIELD_KINDS[name]
        wrong = not isinstance(field_value, kinds) or isinstance(field_value, bool)
        if name == "capability_prompts" and not wrong:
            wrong = not all(isinstance(p, str) for p in field_value)
        if wrong:
            raise _Invalid(
                [*where, name],
                f"{_field_name([*where, name])} must be {what}, not {_type_name(field_value)}",
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
            raise _Invalid(at, f"{_field_name(at)} has no message")
        parts = []
        for name in ("type", "stage", "message"):
            part = item.get(name, "")
            parts.append(_expect("" if part is None else part, str, [*at, name], "a string"))
        chain.append(RecordedError(*parts))
    return chain


def _parse_when(value: Any, where: Sequence[str | int]) -> Pattern:
    if value is None:
        return Pattern()
    _expect(value, dict, where, "a mapping (use `when: {}` to match any request)")
    _check_fields(value, WHEN_FIELDS, where)
    request = None
    if value.get("request") is not None:
        request = _parse_request(value["request"], [*where, "request"])
    attempt = value.get("attempt")
    if attempt is not None:
        _expect(attempt, int, [*where, "attempt"], "a whole number")
        if attempt < 1:
            raise _Invalid([*where, "attempt"], "attempt numbers start at 1")
    needles = value.get("error_contains")
    contains: tuple[str, ...] | None = None
    if needles is not None:
        items = [needles] if isinstance(needles, str) else needles
        _expect(items, list, [*where, "error_contains"], "a string or a list of strings")
        for j, needle in enumerate(items):
            _expect(needle, str, [*where, "error_contains", j], "a string")
            if not needle:
                raise _Invalid([*where, "error_contains", j], "an empty string matches everything")
        contains = tuple(items)
    return Pattern(request=request, attempt=attempt, error_contains=contains)


def _parse_entry(data: Any, index: int) -> Entry:
    where: list[str | int] = ["entries", index]
    _expect(data, dict, where, "a mapping")
    _check_fields(data, ENTRY_FIELDS, where)
    if "id" not in data or data["id"] in (None, ""):
        raise _Invalid(where, f"entry {index + 1} has no id", "give each entry a unique id")
    entry_id = data["id"]
    if isinstance(entry_id, int) and not isinstance(entry_id, bool):
        entry_id = str(entry_id)
    _expect(entry_id, str, [*where, "id"], "a string")
    if data.get("code") is None:
        raise _Invalid(
            [*where],
            f"entry {entry_id!r} has no code",
            "add `code: |` followed by the Python code, indented",
        )
    code = _expect(data["code"], str, [*where, "code"], "a string (use a `|` block)")
    has_request, has_when = "request" in data, "when" in data
    if has_request and has_when:
        raise _Invalid(
            where,
            f"entry {entry_id!r} has both request and when",
            "a recorded entry has request (+ error_chain); a hand-authored one has when",
        )
    if not has_request and not has_when:
        raise _Invalid(
            where,
            f"entry {entry_id!r} has neither request nor when",
            "add `when: {}` to match any request, or a `request:` mapping",
        )
    entry = Entry(id=entry_id, code=code)
    if has_when:
        if data.get("error_chain"):
            raise _Invalid(
                [*where, "error_chain"],
                "a `when` entry has no error_chain",
                "use when.error_contains / when.attempt",
            )
        entry.when = _parse_when(data["when"], [*where, "when"])
    else:
        entry.request = _parse_request(data["request"], [*where, "request"])
        entry.error_chain = _parse_chain(data.get("error_chain"), [*where, "error_chain"])
    for name in ("description", "response", "derived_from"):
        if data.get(name) is not None:
            setattr(entry, name, _expect(data[name], str, [*where, name], "a string"))
    if data.get("origin") is not None:
        origin = _expect(data["origin"], str, [*where, "origin"], "a string")
        if origin not in ORIGINS:
            raise _Invalid(
                [*where, "origin"],
                f"unknown origin {origin!r}",
                f"use one of: {', '.join(ORIGINS)}",
            )
        entry.origin = origin
    if data.get("meta") is not None:
        entry.meta = dict(_expect(data["meta"], dict, [*where, "meta"], "a mapping"))
    if data.get("scrubbed") is not None:
        entry.scrubbed = list(_expect(data["scrubbed"], list, [*where, "scrubbed"], "a list"))
    if data.get("key") is not None:
        key = _expect(data["key"], str, [*where, "key"], "a string")
        if not _KEY_RE.match(key):
            raise _Invalid(
                [*where, "key"],
                "key must be 64 lowercase hex digits (a sha256)",
                "delete the key line: keys are derived; `replaycodegen rehash` rewrites it",
            )
        entry.stored_key = key
    return entry


def _parse_data(data: Any, path: str, match_on: Sequence[str] | None) -> Cassette:
    if not isinstance(data, dict):
        raise _Invalid(
            [],
            f"a cassette is a YAML mapping with version and entries, not {_type_name(data)}",
            "start from `replaycodegen new PATH`",
        )
    kind = foreign_kind(data)
    if kind is not None:
        raise _Invalid(["interactions"], kind, FOREIGN_HINT)
    _check_fields(data, TOP_LEVEL_FIELDS, [])
    if "version" not in data:
        raise _Invalid([], "missing version", f"add `version: {CASSETTE_VERSION}` at the top")
    if data["version"] != CASSETTE_VERSION or isinstance(data["version"], bool):
        if str(data["version"]).strip() == str(CASSETTE_VERSION):
            raise _Invalid(
                ["version"],
                f"version must be the number {CASSETTE_VERSION}, not {_type_name(data['version'])}",
                f"write `version: {CASSETTE_VERSION}`",
            )
        raise _Invalid(
            ["version"],
            f"unsupported cassette version {data['version']!r}; "
            f"this replaycodegen reads version {CASSETTE_VERSION}",
            "upgrade replaycodegen, or fix the version",
        )
    description = data.get("description")
    if description is not None:
        _expect(description, str, ["description"], "a string")
    stored_match_on = data.get("match_on")
    if stored_match_on is not None:
        _expect(stored_match_on, list, ["match_on"], "a list of request field names")
        try:
            stored_match_on = validate_match_on(stored_match_on)
        except (ValueError, TypeError) as exc:
            raise _Invalid(["match_on"], str(exc)) from None
    repeat_last = data.get("repeat_last", True)
    _expect(repeat_last, bool, ["repeat_last"], "true or false")
    entries_data = data.get("entries")
    if entries_data is None:
        entries_data = []
    _expect(entries_data, list, ["entries"], "a list")
    entries = [_parse_entry(item, i) for i, item in enumerate(entries_data)]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise _Invalid(
                ["entries", i, "id"],
                f"duplicate entry id {entry.id!r} (also entry {seen[entry.id] + 1})",
                "give each entry a unique id",
            )
        seen[entry.id] = i
    if match_on is not None and stored_match_on and tuple(match_on) != stored_match_on:
        raise _Invalid(
            ["match_on"],
            f"the cassette keys on {list(stored_match_on)} but match_on={list(match_on)} was "
            "requested",
            "use the cassette's match_on, or re-record it with record mode rewrite",
        )
    effective = tuple(match_on) if match_on is not None else (stored_match_on or DEFAULT_MATCH_ON)
    return Cassette(
        entries, path=path, match_on=effective, description=description, repeat_last=repeat_last
    )


def _fail(path: str, text: str, invalid: _Invalid) -> NoReturn:
    line = yamlio.line_of(text, invalid.where) if invalid.where else 1
    raise CassetteError(
        invalid.message,
        path=path,
        line=line,
        field=_field_name(invalid.where) or None,
        hint=invalid.hint,
    ) from None


def _yaml_error(path: str, text: str, exc: yaml.YAMLError) -> CassetteError:
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    # A problem found only at the end of the file started where its context did.
    at_eof = problem_mark is not None and problem_mark.line >= text.count("\n")
    if at_eof and context_mark is not None:
        mark = context_mark
    line = mark.line + 1 if mark is not None else None
    position = getattr(exc, "position", None)  # ReaderError: bad characters, no mark
    if line is None and isinstance(position, int):
        line = text.count("\n", 0, position) + 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(problem):
        return CassetteError(
            f"refused YAML tag: {problem}",
            path=path,
            line=line,
            hint="cassettes are plain YAML read with a safe loader; remove the tag",
        )
    what = f"{context}: {problem}" if context else problem
    return CassetteError(
        f"invalid YAML: {what}",
        path=path,
        line=line,
        hint="fix the YAML syntax at that line (indentation, quotes, colons)",
    )


def _torn_tail_start(text: str) -> int | None:
    """Offset of the last item of the ``entries:`` list (at the first item's indentation)."""
    first = re.search(r"(?m)^([ ]*)- id: ", text)
    if first is None:
        return None
    items = re.compile(rf"(?m)^{first.group(1)}-(?: |$)")
    starts = [m.start() for m in items.finditer(text, first.start())]
    return starts[-1] if starts else None


def parse_cassette(
    text: str,
    path: str = "<string>",
    *,
    match_on: Sequence[str] | None = None,
    tolerate_torn_tail: bool = True,
) -> Cassette:
    """Parse and validate cassette text. Any problem is a ``CassetteError`` naming the line.

    A recorder writes ``id``, then ``meta`` (``recorded_at`` first), ..., and ``key`` last.
    A last entry cut short by a killed writer (the file does not end with a newline, or the
    entry has ``meta.recorded_at`` but no ``key``, or nothing but its ``id``) is ignored
    with a ``CassetteWarning``.
    """
    try:
        cassette = _parse_strict(text, path, match_on)
    except CassetteError as error:
        start = _torn_tail_start(text)
        if (
            not tolerate_torn_tail
            or start is None
            or error.line is None
            or error.line < text.count("\n", 0, start) + 1
            or (text.endswith("\n") and not _last_entry_unfinished(text))
        ):
            raise
        return _without_torn_tail(text, path, match_on, start)
    if tolerate_torn_tail and cassette.entries:
        last = cassette.entries[-1]
        if last.request is not None and last.stored_key is None and "recorded_at" in last.meta:
            start = _torn_tail_start(text)
            if start is not None:
                return _without_torn_tail(text, path, match_on, start)
    _report_stale_keys(cassette, text)
    return cassette


def _last_entry_unfinished(text: str) -> bool:
    """The last entry parses but stops before the ``key`` a recorder writes last."""
    try:
        data = yamlio.load(text)
        last = data["entries"][-1]
    except (yaml.YAMLError, LookupError, TypeError, ValueError, RecursionError):
        return False
    if not isinstance(last, dict) or "key" in last:
        return False
    meta = last.get("meta")
    started = isinstance(meta, dict) and "recorded_at" in meta
    return started or set(last) <= {"id", "meta", "origin"}


def _without_torn_tail(
    text: str, path: str, match_on: Sequence[str] | None, start: int
) -> Cassette:
    cassette = parse_cassette(text[:start], path, match_on=match_on, tolerate_torn_tail=False)
    _warn_torn(path, text.count("\n", 0, start) + 1)
    cassette.torn_tail = True
    return cassette


def _parse_strict(text: str, path: str, match_on: Sequence[str] | None) -> Cassette:
    # Building many small objects triggers the cyclic GC over and over; none of them can
    # form garbage cycles here, so pausing it cuts the load time by about two thirds.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _parse_strict_unpaused(text, path, match_on)
    finally:
        if paused:
            gc.enable()


def _parse_strict_unpaused(text: str, path: str, match_on: Sequence[str] | None) -> Cassette:
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise CassetteError(f"invalid YAML: {exc}", path=path) from None
    try:
        return _parse_data(data, path, match_on)
    except _Invalid as invalid:
        _fail(path, text, invalid)
    except RecursionError:
        raise CassetteError("cassette is nested too deeply", path=path) from None


def _warn_torn(path: str, line: int) -> None:
    warnings.warn(
        f"{path}:{line}: the last entry was cut short (a recording process was killed while "
        "writing it); it is ignored. `replaycodegen lint --fix` removes it.",
        CassetteWarning,
        stacklevel=3,
    )


def _report_stale_keys(cassette: Cassette, text: str) -> None:
    for index, entry in enumerate(cassette.entries):
        if entry.key_disagrees:
            line = yamlio.line_of(text, ["entries", index, "key"])
            warnings.warn(
                f"{cassette.path}:{line}: entry {entry.id!r}: the stored key disagrees with its "
                "request; the request wins. Run `replaycodegen rehash` to update the stored key.",
                CassetteWarning,
                stacklevel=3,
            )


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text; a missing file, a directory or undecodable bytes is a CassetteError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CassetteError(
            "no such cassette file",
            path=str(p),
            hint="record it (record mode once) or check the path",
        ) from None
    except IsADirectoryError:
        raise CassetteError("is a directory, not a cassette file", path=str(p)) from None
    except OSError as exc:
        raise CassetteError(f"cannot read: {exc.strerror}", path=str(p)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CassetteError(
            "not UTF-8 text", path=str(p), line=line, hint="save the cassette as UTF-8"
        ) from None


def load_cassette(
    path: str | os.PathLike[str], *, match_on: Sequence[str] | None = None
) -> Cassette:
    """Load and validate a cassette file (read only: the file is never modified)."""
    return parse_cassette(read_text(path), str(path), match_on=match_on)
