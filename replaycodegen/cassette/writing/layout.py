"""Where each entry and top-level field sits in a cassette's text, to the character.

Rewrites splice new text into these spans and keep every other character: comments,
blank lines, key order and quoting outside the entries they change stay as they were.
The spans come from libyaml's node marks (``yaml.compose``, C speed; no value is built):

- an entry starts at the start of the line holding its ``-`` and ends at the end of the
  line holding its last character of content (trailing blank lines of a ``|`` block and
  the comments after it belong to the gap before the next entry);
- a top-level field runs from its key's line to the end of its value's last line.

The layout is only used when everything between the spans is blank or comment lines, and
the entries found are those the loader found; otherwise :func:`find_layout` returns
``None`` and the caller writes the file in the standard layout instead.

Composing a whole big file costs as much as loading it, so a rewrite first takes the
quick way (:func:`quick_layout`): the entries' ``- id:`` lines are found with one regex
pass and checked against the loaded ids, each entry's span runs to the next one (its
trailing comments included), and only the entries a rewrite changes or removes are
composed, on their own, to find where their content ends (:func:`refine`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import yaml

_Composer: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEEP_CHOMPING = re.compile(r"[|>](?:[1-9]?\+|\+[1-9]?)")
_GAP = re.compile(r"(?:[ \t]*(?:#[^\n]*)?(?:\n|\Z))*")
_FIRST_DASH = re.compile(r"(?m)^([ ]*)- id: ")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Layout:
    """Spans of one cassette text; ``items`` in file order, ``None`` when ``entries`` is
    not a block sequence with at least one item (empty, ``[]``, a flow list)."""

    text: str
    end: int
    """Where the recognised text ends: a torn last entry after it is to be dropped."""
    top: dict[str, Span]
    items: list[Span] | None
    indent: str
    precise: bool = True
    """False: an entry's span may include the comments after it (see :func:`refine`)."""


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _trim_blank_lines(text: str, start: int, end: int) -> int:
    while end > start:
        previous = text.rfind("\n", start, end - 1)
        if previous < 0 or text[previous + 1 : end].strip():
            break
        end = previous + 1
    return end


def _content_end(node: yaml.Node, text: str) -> int:
    """The index just past the last character that belongs to ``node``."""
    while True:
        if isinstance(node, yaml.ScalarNode):
            end = int(node.end_mark.index)
            if node.style in ("|", ">") and not _KEEP_CHOMPING.match(
                text, node.start_mark.index
            ):
                end = _trim_blank_lines(text, node.start_mark.index, end)
            return end
        assert isinstance(node, yaml.CollectionNode)
        if node.flow_style or not node.value:
            return int(node.end_mark.index)
        if isinstance(node, yaml.MappingNode):
            key, value = node.value[-1]
            # An alias value points at a node earlier in the file: the key ends later.
            key_end = _content_end(key, text)
            if value.start_mark.index < key.start_mark.index:
                return key_end
            node = value
        else:
            node = node.value[-1]


def _is_gap(text: str, start: int, end: int) -> bool:
    return start <= end and _GAP.fullmatch(text, start, end) is not None


def good_text_end(text: str, torn_tail: bool) -> int:
    """Where the text the loader kept ends: before a torn last entry, else the end."""
    if not torn_tail:
        return len(text)
    first = _FIRST_DASH.search(text)
    if first is None:
        return len(text)
    dash = re.compile(rf"(?m)^{first.group(1)}-(?: |$)")
    starts = [m.start() for m in dash.finditer(text, first.start())]
    return starts[-1] if starts else len(text)


def find_layout(text: str, entry_ids: Sequence[str], *, torn_tail: bool = False) -> Layout | None:
    """The layout of ``text``, whose loaded entries have ``entry_ids`` (see the module
    docstring); ``None`` when it cannot be trusted to the character."""
    end = good_text_end(text, torn_tail)
    good = text[:end]
    root = _compose_mapping(good)
    if root is None:
        return None
    top = _top_spans(good, root)
    if top is None:
        return None
    entries_node = next((v for k, v in root.value if k.value == "entries"), None)
    if not isinstance(entries_node, yaml.SequenceNode) or entries_node.flow_style or not (
        entries_node.value
    ):
        return Layout(text, end, top, None, "  ") if not entry_ids else None
    items = _item_spans(good, entries_node, top["entries"])
    if items is None or len(items) != len(entry_ids):
        return None
    for node, entry_id in zip(entries_node.value, entry_ids, strict=True):
        if _id_of(node) != entry_id:
            return None
    indent = " " * int(entries_node.start_mark.column)
    return Layout(text, end, top, items, indent)


def _id_of(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "id" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def _item_spans(text: str, sequence: yaml.SequenceNode, field: Span) -> list[Span] | None:
    column = int(sequence.start_mark.column)
    dash = re.compile(rf"(?m)^ {{{column}}}-(?=[ \t\n]|$)")
    spans: list[Span] = []
    low = _line_start(text, sequence.start_mark.index)
    for node in sequence.value:
        starts = [m.start() for m in dash.finditer(text, low, node.start_mark.index + 1)]
        if not starts or (spans and not _is_gap(text, spans[-1].end, starts[-1])):
            return None
        end = _line_end(text, _content_end(node, text))
        spans.append(Span(starts[-1], end))
        low = end
    if not _is_gap(text, spans[-1].end, field.end):
        return None
    return spans


_ENTRIES_KEY = re.compile(r"(?m)^entries:[ \t]*(?:#[^\n]*)?$")
_CONTENT_LINE = re.compile(r"(?m)^([ ]*)(?=[^ \t\n#])")
_TOP_LEVEL = re.compile(r"(?m)^(?=[^\s#\-])")
_ID_LINE_REST = re.compile(r"id:[ \t]+(?P<id>[^\n]*?)[ \t]*(?:[ \t]#[^\n]*)?$")


def _plain_id(raw: str) -> str | None:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        inner = raw[1:-1]
        return None if ("\\" in inner or "'" in inner or '"' in inner) else inner
    if not raw or raw[0] in "&*!|>'\"%@`{[" or ": " in raw:
        return None
    return raw


def quick_layout(text: str, entry_ids: Sequence[str], *, torn_tail: bool = False
                 ) -> Layout | None:
    """Spans from the ``- id:`` lines (no compose of the entries); entry spans run to the
    next entry, trailing comments included, until :func:`refine` splits them. ``None``
    when the file is not in the usual shape (``entries`` last, ``- id: X`` lines)."""
    end = good_text_end(text, torn_tail)
    key = None
    for key in _ENTRIES_KEY.finditer(text, 0, end):  # noqa: B007 - the last one
        pass
    if key is None or not entry_ids:
        return None
    body = key.end() + 1
    if _TOP_LEVEL.search(text, body, end) is not None:
        return None  # a top-level field after the entries
    first = _CONTENT_LINE.search(text, body, end)
    if first is None or not text.startswith("-", first.end()):
        return None
    indent = first.group(1)
    dash = re.compile(rf"(?m)^{indent}- ")
    starts = [m.start() for m in dash.finditer(text, body, end)]
    if len(starts) != len(entry_ids):
        return None
    for start, entry_id in zip(starts, entry_ids, strict=True):
        line_end = text.find("\n", start)
        match = _ID_LINE_REST.match(text, start + len(indent) + 2,
                                    end if line_end < 0 else line_end)
        if match is None or _plain_id(match.group("id")) != entry_id:
            return None
    header = _header_spans(text[: key.start()])
    if header is None:
        return None
    items = [Span(a, b) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    return Layout(text, end, {**header, "entries": Span(key.start(), end)}, items, indent,
                  precise=False)


def _header_spans(header: str) -> dict[str, Span] | None:
    if _is_gap(header, 0, len(header)):
        return {}  # nothing but comments before `entries:`
    root = _compose_mapping(header)
    return None if root is None else _top_spans(header, root)


def _compose_mapping(text: str) -> yaml.MappingNode | None:
    """The block mapping at the root of ``text`` (``None`` if it is anything else)."""
    try:
        root = yaml.compose(text, Loader=_Composer)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    return root


def _top_spans(text: str, root: yaml.MappingNode) -> dict[str, Span] | None:
    """The span of every top-level field; ``None`` unless only comments lie between."""
    spans: dict[str, Span] = {}
    previous_end = None
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            return None
        start = _line_start(text, key.start_mark.index)
        if previous_end is not None and not _is_gap(text, previous_end, start):
            return None
        previous_end = _line_end(text, max(_content_end(key, text), _content_end(value, text)))
        spans[str(key.value)] = Span(start, previous_end)
    if previous_end is not None and not _is_gap(text, previous_end, len(text)):
        return None
    return spans


def refine(layout: Layout, indexes: Iterable[int]) -> Layout | None:
    """``layout`` with the exact end of these entries' content (each composed alone);
    ``None`` when one of them cannot be told apart from the comments after it."""
    if layout.precise or layout.items is None:
        return layout
    items = list(layout.items)
    text = layout.text
    for index in sorted(set(indexes)):
        span = items[index]
        chunk = "entries:\n" + text[span.start : span.end]
        try:
            root = yaml.compose(chunk, Loader=_Composer)
        except (yaml.YAMLError, RecursionError, ValueError):
            return None
        if not isinstance(root, yaml.MappingNode) or len(root.value) != 1:
            return None
        sequence = root.value[0][1]
        if not isinstance(sequence, yaml.SequenceNode) or len(sequence.value) != 1:
            return None
        content = _line_end(chunk, _content_end(sequence.value[0], chunk)) - len("entries:\n")
        end = span.start + content
        if not _is_gap(text, end, span.end):
            return None
        items[index] = Span(span.start, end)
    return Layout(text, layout.end, layout.top, items, layout.indent, precise=True)
