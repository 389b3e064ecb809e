"""Where the entries of a cassette file are, without parsing it: the fast path's map.

replaycodegen writes a fixed layout: the header fields, then an ``entries:`` line, then one
block-sequence item per entry at one indentation. :func:`split` finds that layout in the
raw bytes (a few C-speed regex passes) so that each entry can be parsed on its own, with
memory bounded by the entry rather than the file. It answers ``None`` whenever the split
is not certain: a line after ``entries:`` that is not an item start, a more-indented
continuation, a blank line or a comment (another top-level key, a second ``entries:``,
``---``, a tab-indented line...). Constructs cut by the split (a quoted string or a flow
collection running across an item boundary, an alias to an anchor in another entry) make
a piece fail to parse, and the caller then parses the whole document instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRIES_LINE = re.compile(rb"^entries:[ \t]*\r?$", re.M)
_CONTENT_LINE = re.compile(rb"^(?![ \t]*(?:#[^\n]*)?\r?$)", re.M)
_ITEM_LINE = re.compile(rb"( *)-(?:[ \r\n]|\Z)")


@dataclass(frozen=True, slots=True)
class EntrySplit:
    """The header's bytes and the byte offset and 1-based line of every entry item."""

    header_end: int
    """Offset of the ``entries:`` line (the header is everything before it)."""
    entries_line: int
    indent: int
    starts: list[int]
    lines: list[int]


def split(raw: bytes) -> EntrySplit | None:
    """The layout of a cassette in the fixed form replaycodegen writes, or ``None``."""
    found = _ENTRIES_LINE.search(raw)
    if found is None:
        return None
    entries_line = raw.count(b"\n", 0, found.start()) + 1
    body = found.end() + 1
    if body > len(raw):  # `entries:` is the last line, without a newline
        return EntrySplit(found.start(), entries_line, 0, [], [])
    first = _CONTENT_LINE.search(raw, body)
    if first is None or first.start() >= len(raw):
        return EntrySplit(found.start(), entries_line, 0, [], [])
    item = _ITEM_LINE.match(raw, first.start())
    if item is None:
        return None
    indent = len(item.group(1))
    # Each pattern starts with a literal newline, which the regex engine finds at memchr
    # speed: one pass over the bytes each, whatever the size of the file.
    uncertain = re.compile(
        rb"\n(?! {%d}| {%d}-(?:[ \r\n]|\Z)|[ \t]*(?:#|\r?\n|\r?\Z))" % (indent + 1, indent)
    )
    if uncertain.search(raw, found.end()) is not None:
        return None
    items = re.compile(rb"\n {%d}-(?=[ \r\n]|\Z)" % indent)
    starts = [m.start() + 1 for m in items.finditer(raw, found.end())]
    lines = []
    line, at = entries_line + 1, body
    for start in starts:
        line += raw.count(b"\n", at, start)
        at = start
        lines.append(line)
    return EntrySplit(found.start(), entries_line, indent, starts, lines)
