"""Parsing cassette bytes: bounded, linear, strict, with file:line errors; keys recomputed.

The fast path (``entry_split``, ``fastpath``): the header, then each batch of entries on
its own, so memory is bounded by a batch, not by the file; every piece is composed by
libyaml, its alias expansion measured against a budget, and built as plain data
(``compose``). The whole document when that split is not certain (an unusual layout, an
alias across entries, a YAML error: errors then come from the whole text, exactly as
before).

Every field is checked (``validate``). A stored key that disagrees with its request is a
``CassetteWarning`` at the key's line; a last entry cut short by a killed recorder is
dropped with one. Both point at the cassette's file and line. Reading files, and the
parsed-cassette cache in front of this module, are ``loader``'s.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence

import yaml

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.loading import compose, entry_split, files
from replaycodegen.cassette.loading.fastpath import SplitParse
from replaycodegen.cassette.loading.outcome import (
    STALE_KEY,
    TORN_TAIL,
    Parsed,
    emit_warnings,
    invalid_error,
    too_deep,
    yaml_error,
)
from replaycodegen.cassette.loading.validate import (
    Invalid,
    NotACassetteError,
    assemble,
    check_entries_value,
    cut_short,
    derive_keys,
    last_entry_unfinished,
    parse_entry,
    parse_header,
)
from replaycodegen.cassette.model import Cassette
from replaycodegen.errors import CassetteError

__all__ = ["parse_bytes", "parse_cassette", "parse_raw"]  # loader re-exports the public two

_CONFLICT_MARKERS = (b"<<<<<<<", b"=======", b">>>>>>>", b"|||||||")
_CONFLICT_REST = re.compile(rb"(?:[ \t][^\r\n]*)?\r?(?:\n|\Z)")


def _line_starts_with(raw: bytes, prefix: bytes) -> Iterator[int]:
    if raw.startswith(prefix):
        yield 0
    at = raw.find(b"\n" + prefix)
    while at != -1:
        yield at + 1
        at = raw.find(b"\n" + prefix, at + 1)


def _conflict_marker(raw: bytes) -> int | None:
    """Offset of the first line that is a git conflict marker (``<<<<<<< HEAD``...)."""
    found = [
        at
        for marker in _CONFLICT_MARKERS
        for at in _line_starts_with(raw, marker)
        if _CONFLICT_REST.match(raw, at + len(marker))
    ]
    return min(found) if found else None


def _refuse_conflict_markers(raw: bytes, path: str) -> None:
    """A git conflict left in the file (a bad merge) is an error, never half an entry."""
    at = _conflict_marker(raw)
    if at is None:
        return
    raise CassetteError(
        f"unresolved git merge conflict (a {raw[at:at + 7].decode()} marker line)",
        path=path,
        line=raw.count(b"\n", 0, at) + 1,
        hint="resolve it: keep the entries of both sides (each id once), delete the marker "
        "lines, then run `replaycodegen lint`; the replaycodegen merge driver avoids this",
    )


# -- the whole document (any layout; exact errors) ---------------------------------------


def _parse_whole(
    text: str, path: str, match_on: Sequence[str] | None, tolerate: bool, size: int,
    fast: bool,
) -> Parsed:
    try:
        parsed = _whole_strict(text, path, match_on, size)
    except NotACassetteError:
        raise
    except CassetteError as error:
        start = _torn_tail_start(text)
        if (
            not tolerate
            or start is None
            or error.line is None
            or error.line < text.count("\n", 0, start) + 1
            or (text.endswith("\n") and not _last_entry_unfinished(text))
        ):
            raise
        return _without_torn_tail(text, path, match_on, start, fast)
    if tolerate and parsed.cassette.entries and cut_short(parsed.cassette.entries[-1]):
        start = _torn_tail_start(text)
        if start is not None:
            return _without_torn_tail(text, path, match_on, start, fast)
    return parsed


def _whole_strict(text: str, path: str, match_on: Sequence[str] | None, size: int) -> Parsed:
    try:
        data = compose.load(text, budget=compose.budget_for(size))
    except yaml.YAMLError as exc:
        raise yaml_error(path, text, exc) from None
    except RecursionError:
        raise too_deep(path) from None
    try:
        header = parse_header(data, match_on, path)
        items = check_entries_value(data.get("entries"))
        entries = [parse_entry(item, i) for i, item in enumerate(items)]
        derive_keys(entries, header.match_on)
        cassette = assemble(entries, header, match_on, path)
    except Invalid as invalid:
        line = yamlio.line_of(text, invalid.where) if invalid.where else 1
        raise invalid_error(invalid, path, line) from None
    notes: list[tuple[int | None, str]] = []
    stale = [i for i, entry in enumerate(cassette.entries) if entry.key_disagrees]
    if stale:
        root = compose.compose(text)  # once, whatever the number of stale keys
        for index in stale:
            line = yamlio.node_line(root, ["entries", index, "key"])
            notes.append((line, STALE_KEY.format(id=cassette.entries[index].id)))
    return Parsed(cassette, notes)


def _torn_tail_start(text: str) -> int | None:
    """Offset of the last item of the ``entries:`` list (at the first item's indentation)."""
    first = re.search(r"(?m)^([ ]*)- id: ", text)
    if first is None:
        return None
    items = re.compile(rf"(?m)^{first.group(1)}-(?: |$)")
    starts = [m.start() for m in items.finditer(text, first.start())]
    return starts[-1] if starts else None


def _last_entry_unfinished(text: str) -> bool:
    """The last entry parses but stops before the ``key`` a recorder writes last."""
    try:
        data = compose.load(text)
        last = data["entries"][-1]
    except (yaml.YAMLError, LookupError, TypeError, ValueError, RecursionError):
        return False
    return last_entry_unfinished(last)


def _without_torn_tail(
    text: str, path: str, match_on: Sequence[str] | None, start: int, fast: bool
) -> Parsed:
    parsed = parse_bytes(text[:start].encode("utf-8"), path, match_on, False, fast)
    parsed.cassette.torn_tail = True
    parsed.notes.append((text.count("\n", 0, start) + 1, TORN_TAIL))
    return parsed


# -- entry points ---------------------------------------------------------------------------


def parse_bytes(
    raw: bytes, path: str, match_on: Sequence[str] | None, tolerate: bool, fast: bool = True
) -> Parsed:
    # Building many small objects triggers the cyclic GC over and over; none of them can
    # form garbage cycles here, so pausing it cuts the load time by about two thirds.
    paused = gc.isenabled()
    gc.disable()
    try:
        _refuse_conflict_markers(raw, path)
        where = entry_split.split(raw) if fast else None
        if where is not None:
            parsed = SplitParse(raw, where, path, match_on, tolerate).parse()
            if parsed is not None:
                return parsed
        text = files.decode_utf8(raw, path)
        return _parse_whole(text, path, match_on, tolerate, len(raw), fast)
    finally:
        if paused:
            gc.enable()


def parse_raw(
    raw: bytes,
    path: str = "<string>",
    *,
    match_on: Sequence[str] | None = None,
    tolerate_torn_tail: bool = True,
    whole: bool = False,
) -> Parsed:
    """Parse and validate a cassette's bytes without warning (the warnings are returned).

    ``whole=True`` skips the fast path (tests compare the two).
    """
    return parse_bytes(raw, path, match_on, tolerate_torn_tail, fast=not whole)


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
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise CassetteError(
            "not UTF-8 text (it holds a lone surrogate)", path=path, hint="save it as UTF-8"
        ) from None
    parsed = parse_bytes(raw, path, match_on, tolerate_torn_tail)
    emit_warnings(path, parsed.notes)
    return parsed.cassette
