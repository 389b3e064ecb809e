"""Reading cassettes: bounded, linear, strict, with file:line errors; keys recomputed.

Loading never modifies the file. ``load_cassette`` reads the bytes (a regular file only,
see ``files``), serves them from the parsed-cassette cache when it has seen them (see
``cache``), else parses them:

- the fast path (``layout``): the header, then each batch of entries on its own, so memory
  is bounded by a batch, not by the file; every piece is composed by libyaml, its alias
  expansion measured against a budget, and built as plain data (``compose``);
- the whole document when that split is not certain (an unusual layout, an alias across
  entries, a YAML error: errors then come from the whole text, exactly as before).

Every field is checked (``validate``). A stored key that disagrees with its request is a
``CassetteWarning`` at the key's line; a last entry cut short by a killed recorder is
dropped with one. Both point at the cassette's file and line.
"""

from __future__ import annotations

import gc
import hashlib
import linecache
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from yaml.nodes import Node, SequenceNode

from replaycodegen.cassette import compose, files, layout, yamlio
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.validate import (
    ENTRY_FIELDS,
    TOP_LEVEL_FIELDS,
    Header,
    Invalid,
    NotACassetteError,
    assemble,
    check_entries_value,
    cut_short,
    derive_keys,
    field_name,
    last_entry_unfinished,
    parse_entry,
    parse_header,
)
from replaycodegen.errors import CassetteError

if TYPE_CHECKING:
    from replaycodegen.cassette.cache import CacheChoice

__all__ = [
    "ENTRY_FIELDS",
    "TOP_LEVEL_FIELDS",
    "CassetteWarning",
    "NotACassetteError",
    "Parsed",
    "load_cassette",
    "parse_cassette",
    "read_text",
]

BATCH = 64
"""Entries parsed per piece on the fast path (the last entry is always a piece alone)."""
STALE_KEY = (
    "entry {id!r}: the stored key disagrees with its request; the request wins. "
    "Run `replaycodegen rehash` to update the stored key."
)
TORN_TAIL = (
    "the last entry was cut short (a recording process was killed while writing it); "
    "it is ignored. `replaycodegen lint --fix` removes it."
)


class CassetteWarning(UserWarning):
    """Something in a cassette is suspicious but usable (a stale key, a torn last entry)."""


@dataclass(slots=True)
class Parsed:
    """A parsed cassette and the warnings it raises (line, message), in file order."""

    cassette: Cassette
    notes: list[tuple[int | None, str]] = field(default_factory=list)


# -- warnings that point at the cassette ---------------------------------------------------

_REGISTRIES: dict[str, dict[Any, Any]] = {}
_LARGE_FILE = 4 << 20


def emit_warnings(path: str, notes: Sequence[tuple[int | None, str]]) -> None:
    """Warn at ``path:line`` (not at this module), once per place unless asked "always"."""
    if not notes:
        return
    registry = _REGISTRIES.setdefault(path, {})
    if os.path.isfile(path) and os.path.getsize(path) > _LARGE_FILE:
        # The warning printer shows the source line through linecache, which reads the
        # whole file into a list of lines: not for a 270 MB cassette.
        linecache.cache.setdefault(path, (0, None, [], path))
    for line, message in notes:
        warnings.warn_explicit(
            CassetteWarning(message), CassetteWarning, path, line or 1, registry=registry
        )


# -- errors ---------------------------------------------------------------------------------


def _yaml_error(path: str, text: str, exc: yaml.YAMLError, first_line: int = 1) -> CassetteError:
    """The ``CassetteError`` of a YAML error, at the line where the problem is.

    libyaml notices some problems on the line after them (a key without its ``:``, a flow
    collection left open); the line named is then the one the problem started on, and
    the message says where it was noticed.
    """
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    mark = problem_mark or context_mark
    note = ""
    if problem_mark is not None and context_mark is not None:
        problem_line, context_line = problem_mark.line, context_mark.line
        at_eof = problem_line >= text.count("\n")
        started_earlier = problem_line > context_line and (
            "could not find expected ':'" in str(problem) or str(context).startswith(
                ("while parsing a flow", "while scanning a quoted", "while scanning a block")
            )
        )
        if at_eof or started_earlier:
            mark = context_mark
            if not at_eof:
                note = f" (noticed at line {first_line + problem_line})"
    line = first_line + mark.line if mark is not None else None
    position = getattr(exc, "position", None)  # ReaderError: bad characters, no mark
    if line is None and isinstance(position, int):
        line = first_line + text.count("\n", 0, position)
    if isinstance(exc, compose.YamlRefused):
        return CassetteError(str(problem), path=path, line=line, hint=exc.hint)
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(problem):
        return CassetteError(
            f"refused YAML tag: {problem}",
            path=path,
            line=line,
            hint="cassettes are plain YAML read with a safe loader; remove the tag",
        )
    what = f"{context}: {problem}" if context else str(problem)
    return CassetteError(
        f"invalid YAML: {what}{note}",
        path=path,
        line=line,
        hint="fix the YAML syntax at that line (indentation, quotes, colons)",
    )


def _invalid_error(invalid: Invalid, path: str, line: int | None) -> CassetteError:
    return CassetteError(
        invalid.message,
        path=path,
        line=line,
        field=field_name(invalid.where) or None,
        hint=invalid.hint,
    )


def _too_deep(path: str, line: int | None = None) -> CassetteError:
    return CassetteError(
        "cassette is nested too deeply", path=path, line=line,
        hint="flatten the data (or remove a chain of aliases)",
    )


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
        raise _yaml_error(path, text, exc) from None
    except RecursionError:
        raise _too_deep(path) from None
    try:
        header = parse_header(data, match_on, path)
        items = check_entries_value(data.get("entries"))
        entries = [parse_entry(item, i) for i, item in enumerate(items)]
        derive_keys(entries, header.match_on)
        cassette = assemble(entries, header, match_on, path)
    except Invalid as invalid:
        line = yamlio.line_of(text, invalid.where) if invalid.where else 1
        raise _invalid_error(invalid, path, line) from None
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
    parsed = _parse_raw(text[:start].encode("utf-8"), path, match_on, False, fast)
    parsed.cassette.torn_tail = True
    parsed.notes.append((text.count("\n", 0, start) + 1, TORN_TAIL))
    return parsed


# -- the fast path: header, then the entries a batch at a time --------------------------


@dataclass(slots=True)
class _Piece:
    first: int
    count: int
    start: int
    end: int
    line: int


class _Split:
    """Parses a cassette in the fixed layout piece by piece; ``None``: not certain."""

    def __init__(
        self, raw: bytes, where: layout.Layout, path: str, match_on: Sequence[str] | None,
        tolerate: bool,
    ) -> None:
        self.raw, self.layout, self.path = raw, where, path
        self.match_on, self.tolerate = match_on, tolerate
        self.budget = compose.budget_for(len(raw))
        self.spent = 0
        self.stale_lines: dict[int, int | None] = {}
        self.header_root: Node | None = None

    def _text(self, start: int, end: int, line: int) -> str:
        piece = self.raw[start:end]
        try:
            return piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise files.not_utf8(piece, exc, self.path, first_line=line) from None

    def _pieces(self) -> Iterator[_Piece]:
        starts, lines = self.layout.starts, self.layout.lines
        count = len(starts)
        bounds = [*starts, len(self.raw)]
        index = 0
        while index < count - 1:
            stop = min(index + BATCH, count - 1)
            yield _Piece(index, stop - index, bounds[index], bounds[stop], lines[index])
            index = stop
        if count:
            yield _Piece(count - 1, 1, bounds[count - 1], bounds[count], lines[count - 1])

    def _header(self) -> tuple[Any, Node] | None:
        text = self._text(0, self.layout.header_end, 1) + "entries: []\n"
        try:
            root = compose.compose(text)
            if root is not None and compose.may_alias(text):
                self.spent += compose.measure(root, self.budget)
            data = compose.build(root) if root is not None else None
        except (yaml.YAMLError, RecursionError):
            return None
        if not isinstance(data, dict) or data.get("entries") != [] or root is None:
            return None
        return data, root

    def parse(self) -> Parsed | None:
        found = self._header()
        if found is None:
            return None
        data, self.header_root = found
        deferred: CassetteError | None = None
        deferred_index: int | None = None
        header: Header | None = None
        try:
            header = parse_header(data, self.match_on, self.path)
        except Invalid as invalid:
            deferred = _invalid_error(invalid, self.path, self._header_line(invalid.where))
        entries: list[Entry] = []
        last_data: Any = None
        torn = False
        count = len(self.layout.starts)
        for piece in self._pieces():
            is_last = piece.first == count - 1
            text = self._text(piece.start, piece.end, piece.line)
            try:
                root = compose.compose(text)
            except (yaml.YAMLError, RecursionError) as exc:
                if is_last and self._torn_by(exc):
                    torn = True
                    break
                return None  # perhaps a construct cut by the split: parse it whole
            if not isinstance(root, SequenceNode) or len(root.value) != piece.count:
                return None
            try:
                if compose.may_alias(text):
                    self.spent += compose.measure(root, self.budget - self.spent)
                items = compose.build(root)
            except yaml.YAMLError as exc:
                if is_last and self._torn_by(exc):
                    torn = True
                    break
                raise _yaml_error(self.path, text, exc, piece.line) from None
            except RecursionError:
                raise _too_deep(self.path, piece.line) from None
            if is_last:
                last_data = items[0]
            if deferred is not None or header is None:
                continue  # the YAML of the rest is still checked: a YAML error comes first
            for offset, item in enumerate(items):
                index = piece.first + offset
                try:
                    entry = parse_entry(item, index)
                except Invalid as invalid:
                    line = yamlio.node_line(root, [offset, *invalid.where[2:]])
                    deferred = _invalid_error(invalid, self.path, _shift(line, piece.line))
                    deferred_index = index
                    break
                entries.append(entry)
            derive_keys(entries[piece.first:], header.match_on)
            for offset, entry in enumerate(entries[piece.first:]):
                if entry.key_disagrees:
                    line = yamlio.node_line(root, [offset, "key"])
                    self.stale_lines[piece.first + offset] = _shift(line, piece.line)
        return self._finish(header, entries, deferred, deferred_index, last_data, torn)

    def _torn_by(self, exc: BaseException) -> bool:
        """A YAML error in the last entry of a file that does not end with a newline."""
        undefined_alias = "undefined alias" in str(getattr(exc, "problem", ""))
        return self.tolerate and not self.raw.endswith(b"\n") and not undefined_alias

    def _unfinished(self, last_data: Any) -> bool:
        return self.tolerate and (
            not self.raw.endswith(b"\n") or last_entry_unfinished(last_data)
        )

    def _finish(
        self, header: Header | None, entries: list[Entry], deferred: CassetteError | None,
        deferred_index: int | None, last_data: Any, torn: bool,
    ) -> Parsed:
        last = len(self.layout.starts) - 1
        if deferred is not None:
            if deferred_index != last or not self._unfinished(last_data):
                raise deferred
            torn = True
        assert header is not None
        if not torn:
            try:
                parsed = self._build(header, entries, torn=False)
            except Invalid as invalid:
                if invalid.where[:2] != ("entries", last) or not self._unfinished(last_data):
                    raise self._error(invalid) from None
            else:
                if not (self.tolerate and entries and cut_short(entries[-1])):
                    return parsed
        try:
            return self._build(header, entries[:last], torn=True)
        except Invalid as invalid:
            raise self._error(invalid) from None

    def _build(self, header: Header, entries: list[Entry], *, torn: bool) -> Parsed:
        cassette = assemble(entries, header, self.match_on, self.path)
        notes: list[tuple[int | None, str]] = [
            (self.stale_lines.get(i), STALE_KEY.format(id=entry.id))
            for i, entry in enumerate(cassette.entries)
            if entry.key_disagrees
        ]
        if torn:
            cassette.torn_tail = True
            notes.append((self.layout.lines[len(entries)], TORN_TAIL))
        return Parsed(cassette, notes)

    def _error(self, invalid: Invalid) -> CassetteError:
        if invalid.where[:1] == ("entries",) and len(invalid.where) > 2:
            line = self._entry_line(int(invalid.where[1]), str(invalid.where[2]))
        else:
            line = self._header_line(invalid.where)
        return _invalid_error(invalid, self.path, line)

    def _header_line(self, where: Sequence[str | int]) -> int | None:
        return yamlio.node_line(self.header_root, where) if where else 1

    def _entry_line(self, index: int, name: str) -> int | None:
        """The line of one entry's field, from a parse of that entry alone (errors only)."""
        bounds = [*self.layout.starts, len(self.raw)]
        text = self._text(bounds[index], bounds[index + 1], self.layout.lines[index])
        try:
            root = compose.compose(text)
        except (yaml.YAMLError, RecursionError):
            return self.layout.lines[index]
        return _shift(yamlio.node_line(root, [0, name]), self.layout.lines[index])


def _shift(line: int | None, first_line: int) -> int | None:
    return None if line is None else line + first_line - 1


# -- entry points ---------------------------------------------------------------------------


def _parse_raw(
    raw: bytes, path: str, match_on: Sequence[str] | None, tolerate: bool, fast: bool = True
) -> Parsed:
    # Building many small objects triggers the cyclic GC over and over; none of them can
    # form garbage cycles here, so pausing it cuts the load time by about two thirds.
    paused = gc.isenabled()
    gc.disable()
    try:
        _refuse_conflict_markers(raw, path)
        where = layout.split(raw) if fast else None
        if where is not None:
            parsed = _Split(raw, where, path, match_on, tolerate).parse()
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
    return _parse_raw(raw, path, match_on, tolerate_torn_tail, fast=not whole)


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
    parsed = _parse_raw(raw, path, match_on, tolerate_torn_tail)
    emit_warnings(path, parsed.notes)
    return parsed.cassette


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text: a regular file only (never a FIFO, a device or a directory), UTF-8;
    anything else is a ``CassetteError`` naming the path."""
    return files.decode_utf8(files.read_regular_file(path), os.fspath(path))


def load_cassette(
    path: str | os.PathLike[str],
    *,
    match_on: Sequence[str] | None = None,
    cache: CacheChoice = None,
) -> Cassette:
    """Load and validate a cassette file (read only: the file is never modified).

    ``cache``: ``None`` uses the default parsed-cassette cache (the user cache directory,
    or pytest's under the plugin; ``REPLAYCODEGEN_CACHE_DIR=off`` turns it off), ``False``
    turns it off, a folder or a ``ParsedCassetteCache`` uses that one. A cache hit serves
    what a fresh parse would, warnings included; an edited file is never served from it.
    """
    from replaycodegen.cassette.cache import choose

    name = os.fspath(path)
    store = choose(cache)
    if store is None:
        parsed = _parse_raw(files.read_regular_file(name), name, match_on, True)
        emit_warnings(name, parsed.notes)
        return parsed.cassette
    found = store.lookup(name, match_on)
    if found.parsed is not None:
        emit_warnings(name, found.parsed.notes)
        return found.parsed.cassette
    raw, st = (found.raw, found.stat) if found.raw is not None else files.read_with_stat(name)
    source = found.source or hashlib.sha256(raw).hexdigest()
    del found
    parsed = _parse_raw(raw, name, match_on, True)
    del raw
    store.save(name, match_on, parsed, source, st)
    emit_warnings(name, parsed.notes)
    return parsed.cassette
