"""The fast path: a cassette in the layout replaycodegen writes, parsed a batch of entries
at a time (see ``entry_split``), so that memory is bounded by a batch, not by the file.

``SplitParse(...).parse()`` returns ``None`` whenever the split is not certain (the header
or a piece does not parse on its own: a construct cut by the split, an alias to another
entry's anchor); the loader then parses the whole document, and errors come from it. An
error certain from the pieces (a refused value, an invalid field, an alias bomb) is raised
with the line in the file, and the torn-tail rules are those of the whole-document parse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import Node, SequenceNode

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.loading import compose, entry_split, files
from replaycodegen.cassette.loading.outcome import (
    STALE_KEY,
    TORN_TAIL,
    Parsed,
    invalid_error,
    shift,
    too_deep,
    yaml_error,
)
from replaycodegen.cassette.loading.validate import (
    Header,
    Invalid,
    assemble,
    cut_short,
    derive_keys,
    last_entry_unfinished,
    parse_entry,
    parse_header,
)
from replaycodegen.cassette.model import Entry
from replaycodegen.errors import CassetteError

BATCH = 64
"""Entries parsed per piece (the last entry is always a piece alone)."""


@dataclass(slots=True)
class _Piece:
    first: int
    count: int
    start: int
    end: int
    line: int


class SplitParse:
    """Parses a cassette in the fixed layout piece by piece; ``None``: not certain."""

    def __init__(
        self, raw: bytes, where: entry_split.EntrySplit, path: str, match_on: Sequence[str] | None,
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
            deferred = invalid_error(invalid, self.path, self._header_line(invalid.where))
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
                raise yaml_error(self.path, text, exc, piece.line) from None
            except RecursionError:
                raise too_deep(self.path, piece.line) from None
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
                    deferred = invalid_error(invalid, self.path, shift(line, piece.line))
                    deferred_index = index
                    break
                entries.append(entry)
            derive_keys(entries[piece.first:], header.match_on)
            for offset, entry in enumerate(entries[piece.first:]):
                if entry.key_disagrees:
                    line = yamlio.node_line(root, [offset, "key"])
                    self.stale_lines[piece.first + offset] = shift(line, piece.line)
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
        return invalid_error(invalid, self.path, line)

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
        return shift(yamlio.node_line(root, [0, name]), self.layout.lines[index])
