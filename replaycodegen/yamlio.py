"""YAML plumbing: the safe loader and dumper (libyaml's C ones when present), literal blocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader]
SafeDumper: type[yaml.SafeDumper]
try:
    SafeLoader = yaml.CSafeLoader  # type: ignore[assignment]
    _BaseDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    SafeLoader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper
    HAVE_LIBYAML = False


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


def load(text: str) -> Any:
    """Parse YAML with the safe loader: no Python object tags, ever."""
    return yaml.load(text, Loader=SafeLoader)


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
    """1-based line of the node at ``path`` (mapping keys / sequence indexes), best effort."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=SafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    last_line: int | None = None
    for step in path:
        if node is None:
            break
        last_line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            found = None
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == step:
                    found = value_node
                    last_line = key_node.start_mark.line + 1
                    break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if 0 <= step < len(node.value) else None
        else:
            node = None
    if node is not None:
        return int(node.start_mark.line) + 1
    return last_line
