"""YAML plumbing: the safe loader and dumper (libyaml's C ones when present), literal blocks,
and line numbers of nodes. Loading data goes through ``loading.compose.load`` (bounded,
plain data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader]
_BaseDumper: type[yaml.SafeDumper]
try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
    _BaseDumper = yaml.CSafeDumper  # type: ignore[assignment]
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper
    HAVE_LIBYAML = False
BaseLoader = _BaseLoader
"""The safe loader class underneath (libyaml's ``CSafeLoader`` when available)."""


class SafeLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader (C when available) that also refuses a key given twice in a mapping,
    which plain YAML loaders accept silently, losing the first value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class LiteralStr(str):
    """A string always written as a ``|`` literal block (generated code)."""

    __slots__ = ()


class CassetteDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Safe dumper: multi-line strings and code as literal blocks, keys in insertion order."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_literal(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


CassetteDumper.add_representer(str, _represent_str)
CassetteDumper.add_representer(LiteralStr, _represent_literal)


def dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=CassetteDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """1-based line of the node at ``path`` (mapping keys / sequence indexes), best effort.

    When the last step is a mapping key, the key's own line (where a reader looks for a
    misplaced field), not the line its block value starts on.
    """
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_BaseLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return node_line(node, path)


def node_line(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """:func:`line_of` on a node graph already composed (no second parse)."""
    node = root
    line: int | None = None
    for step in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            found = None
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == step:
                    found, line = value_node, key_node.start_mark.line + 1
                    break
            node = found
            if found is not None and step == path[-1]:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if 0 <= step < len(node.value) else None
        else:
            node = None
    if node is not None:
        return int(node.start_mark.line) + 1
    return line
