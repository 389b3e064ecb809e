"""Bounded YAML: compose with libyaml, measure what the aliases expand to, build plain data.

``yaml.load`` builds what aliases point at once and shares it, so a 519-byte "billion
laughs" document loads quickly into a graph whose *expanded* size is 10^9: everything that
walks it afterwards (key derivation, JSON, a rewrite) never ends. Here the document is
composed first (libyaml's C composer: an alias is a second reference to the same node),
the expanded size is computed in linear time with a memo over node ids, and the document
is refused past a budget proportional to its length, before anything is constructed. A
self-referencing alias is refused too, so the data built is always a finite tree.

What is built is plain data only (str, int, float, bool, None, lists, mappings with string
keys): a date, binary data, a set or an ordered map is refused with the fix (quote it),
and so is every other tag. Mapping keys must be strings and appear once.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from replaycodegen.cassette.yamlio import BaseLoader

BUDGET_PER_CHARACTER = 10
"""Expanded size allowed per character of the document (a plain document expands to at
most about its length, so only aliases can reach this)."""
BUDGET_FLOOR = 100_000
"""...and at least this much, so that a small hand-written file may share a few blocks."""

_TAG = "tag:yaml.org,2002:"
STR, SEQ, MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
MERGE, VALUE = _TAG + "merge", _TAG + "value"
_SAFE = SafeConstructor()
_SCALARS: dict[str, Callable[[ScalarNode], Any]] = {
    _TAG + "int": _SAFE.construct_yaml_int,
    _TAG + "float": _SAFE.construct_yaml_float,
    _TAG + "bool": _SAFE.construct_yaml_bool,
    _TAG + "null": _SAFE.construct_yaml_null,
}
_NOT_PLAIN = {
    _TAG + "timestamp": ("is read as a date/time, which a cassette cannot hold",
                         "quote it to keep it a string"),
    _TAG + "binary": ("is binary data (!!binary), which a cassette cannot hold",
                      "write it as text"),
    _TAG + "set": ("is a YAML set (!!set)", "write a list or a mapping"),
    _TAG + "omap": ("is a YAML ordered map (!!omap)", "write a mapping"),
    _TAG + "pairs": ("is a YAML list of pairs (!!pairs)", "write a mapping"),
}


def budget_for(length: int) -> int:
    """The expanded size allowed for a document of ``length`` characters."""
    return max(BUDGET_PER_CHARACTER * length, BUDGET_FLOOR)


class YamlRefused(yaml.MarkedYAMLError):
    """The YAML is well-formed but not something a cassette may hold (with the fix)."""

    def __init__(self, problem: str, mark: Any, hint: str | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class BoundedLoader(BaseLoader):  # type: ignore[misc,valid-type]
    """libyaml's composer (C) with a memoised tag resolver and no path resolvers.

    The resolver runs once per plain scalar; the same short values (``id``, ``code``,
    ``null``, field names) recur in every entry, so their tags are remembered.
    """

    _resolved: ClassVar[dict[str, str]] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if not implicit[0]:
                return STR
            tag = self._resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 40 and len(self._resolved) < 20_000:
                    self._resolved[value] = tag
            return tag
        return SEQ if kind is SequenceNode else MAP  # no path resolvers: the defaults

    # Path resolvers are never used; the composer calls these hooks for every node, so
    # they are C callables that accept the arguments and do nothing (no Python frame).
    descend_resolver = staticmethod(slice)
    ascend_resolver = staticmethod(tuple)


def compose(text: str) -> Node | None:
    """The node graph of a single YAML document (``None`` for an empty one)."""
    loader = BoundedLoader(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def measure(root: Node, budget: int) -> int:
    """The size ``root`` expands to (1 per node plus the characters of each scalar),
    computed in linear time; a cycle or a size past ``budget`` is a ``YamlRefused``."""
    done: dict[int, int] = {}
    active: set[int] = set()
    total = 0

    def refuse_size(line_node: Node) -> YamlRefused:
        return YamlRefused(
            f"YAML aliases expand this document to more than {budget:,} nodes and characters "
            f"(an alias bomb?); refused before building it",
            line_node.start_mark,
            "write the shared blocks out, or use fewer aliases",
        )

    def visit(node: Node, at: Node) -> Node | None:
        """Account for ``node`` reached from ``at``; return it when it must be entered."""
        nonlocal total
        key = id(node)
        seen = done.get(key)
        if seen is not None:  # an alias of a node already measured
            total += seen
            if total > budget:
                raise refuse_size(at)
            return None
        if key in active:
            raise YamlRefused(
                "a YAML alias refers to a node that contains it (a self-referencing alias)",
                at.start_mark,
                "remove the alias: a cassette holds no recursive data",
            )
        if isinstance(node, ScalarNode):
            size = 1 + len(node.value)
            done[key] = size
            total += size
            if total > budget:
                raise refuse_size(at)
            return None
        active.add(key)
        total += 1
        return node

    stack: list[tuple[Node, list[tuple[Node, Node]], int]] = []

    def enter(node: Node) -> None:
        if isinstance(node, MappingNode):
            steps = [step for key, value in node.value for step in ((key, key), (value, key))]
        else:
            steps = [(child, child) for child in node.value]
        steps.reverse()
        stack.append((node, steps, total - 1))  # the size before the node's own 1

    if visit(root, root) is None:
        return total
    enter(root)
    while stack:
        node, steps, started = stack[-1]
        while steps:
            child, at = steps.pop()
            # A mapping value is reported at its key's line: where `key: *alias` is written.
            if visit(child, at if at is not child else node) is not None:
                enter(child)
                break
        else:
            stack.pop()
            active.discard(id(node))
            done[id(node)] = total - started
    return total


def _describe_key(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = {
        _TAG + "int": "a number",
        _TAG + "float": "a number",
        _TAG + "bool": "true/false",
        _TAG + "null": "null",
        _TAG + "timestamp": "a date",
    }.get(node.tag, f"a {node.tag} value")
    return f"{kind} ({node.value!r})" if node.value else kind


def _bad_key(node: Node) -> YamlRefused:
    return YamlRefused(
        f"mapping keys must be strings; this one is {_describe_key(node)}",
        node.start_mark,
        "quote the key",
    )


def _bad_tag(node: Node) -> yaml.YAMLError:
    refused = _NOT_PLAIN.get(str(node.tag))
    if refused is not None:
        what = f"{node.value!r} " if isinstance(node, ScalarNode) else "this value "
        return YamlRefused(what + refused[0], node.start_mark, refused[1])
    return yaml.constructor.ConstructorError(
        None, None, f"could not determine a constructor for the tag {node.tag!r}",
        node.start_mark,
    )


def _duplicate(node: Node, key_node: Node) -> yaml.YAMLError:
    key = key_node.value
    if key == "entries":
        hint = "merge the two `entries:` lists into one (a bad merge?)"
    else:
        hint = f"keep one `{key}:` (YAML would silently drop the first)"
    return YamlRefused(f"found the key {key!r} twice in one mapping", key_node.start_mark, hint)


def build(node: Node) -> Any:
    """Plain data from a node graph already checked by :func:`measure` (or alias-free)."""
    cls = node.__class__
    if cls is ScalarNode:
        tag = node.tag
        if tag == STR:
            return node.value
        scalar = _SCALARS.get(tag)
        if scalar is None:
            raise _bad_tag(node)
        try:
            return scalar(node)  # type: ignore[arg-type]
        except (ValueError, KeyError, IndexError):  # e.g. an int of more than 4,300 digits
            raise YamlRefused(
                f"{node.value[:40]!r} is not a number Python can read", node.start_mark,
                "quote it to keep it a string",
            ) from None
    if cls is SequenceNode:
        if node.tag != SEQ:
            raise _bad_tag(node)
        return [build(child) for child in node.value]
    if node.tag != MAP:
        raise _bad_tag(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.__class__ is not ScalarNode or key_node.tag != STR:
            if key_node.__class__ is ScalarNode and key_node.tag in (MERGE, VALUE):
                return _build_merged(node)
            raise _bad_key(key_node)
        key = key_node.value
        if key in out:
            raise _duplicate(node, key_node)
        out[sys.intern(key) if len(key) <= 40 else key] = build(value_node)
    return out


def _build_merged(node: Node) -> dict[str, Any]:
    """A mapping with ``<<`` merge keys: explicit keys are checked for duplicates, then the
    merged keys are laid under them (YAML's rule: an explicit key wins)."""
    explicit: set[str] = set()
    for key_node, _value in node.value:
        if key_node.__class__ is ScalarNode and key_node.tag == MERGE:
            continue
        if key_node.__class__ is not ScalarNode or key_node.tag not in (STR, VALUE):
            raise _bad_key(key_node)
        if key_node.value in explicit:
            raise _duplicate(node, key_node)
        explicit.add(key_node.value)
    _SAFE.flatten_mapping(node)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.__class__ is not ScalarNode or key_node.tag != STR:
            raise _bad_key(key_node)
        out[sys.intern(key_node.value)] = build(value_node)
    return out


_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]")
"""Where an anchor (``&name``) can start: after a space, a line start or a flow indicator."""


def may_alias(text: str) -> bool:
    """False when the text cannot hold an anchor (so no alias, no sharing, no cycle).

    A superset test: ``&`` inside a string (``a &b`` in code) costs a measure, nothing else.
    """
    return "&" in text and _ANCHOR.search(text) is not None


def load(text: str, *, budget: int | None = None) -> Any:
    """Compose, check and build one YAML document as plain data (``None`` when empty).

    Raises ``yaml.YAMLError`` (``YamlRefused`` for what a cassette may not hold) and
    ``RecursionError`` for data nested deeper than Python's recursion limit.
    """
    root = compose(text)
    if root is None:
        return None
    if may_alias(text):
        measure(root, budget_for(len(text)) if budget is None else budget)
    return build(root)
