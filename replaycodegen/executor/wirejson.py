"""JSON that the generated code sent over the control channel, made safe to keep.

The service keeps what the code sends (its results, the values it writes) and later
writes it to ``control_system.json``, ``outcome.json`` and the notebook, and hands it to
the caller. So every frame is parsed as strict UTF-8, refused when nested deeper than
``MAX_NESTING`` levels (Python's own ``json.dumps(indent=...)``, ``pprint`` and
nbformat recurse once per level and would crash on a few hundred) or when it holds more
than ``MAX_CONTAINERS`` lists and dicts (``[[],[],...]`` is 3 bytes of JSON per 64 bytes
of Python: a 64 MB outcome of it would take 1.4 GB of the service's memory), and any lone
surrogate (``"\\udcff"``: what ``os.listdir`` makes of a file name that is not UTF-8) is
replaced by U+FFFD, which no UTF-8 writer can refuse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_CONTAINERS",
    "MAX_NESTING",
    "NestedTooDeeply",
    "TooManyContainers",
    "parse_untrusted",
]

MAX_NESTING = 128  # the bootstrap cuts results at 100 levels, so code never reaches it
MAX_CONTAINERS = 1_000_000  # lists and dicts in one frame
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class NestedTooDeeply(ValueError):
    """A frame holds lists or dicts nested deeper than ``MAX_NESTING`` levels."""

    def __init__(self) -> None:
        super().__init__(f"nested deeper than {MAX_NESTING} levels")


class TooManyContainers(ValueError):
    """A frame holds more than ``MAX_CONTAINERS`` lists and dicts."""

    def __init__(self) -> None:
        super().__init__(f"more than {MAX_CONTAINERS:,} lists and dicts")


def parse_untrusted(body: bytes, parse_int: Callable[[str], Any] | None = None) -> Any:
    """``body`` as JSON data, bounded and clean; ``ValueError`` when it is not UTF-8 JSON,
    ``NestedTooDeeply`` when nested too deeply."""
    text = body.decode("utf-8")  # strict: encoded surrogates and other encodings fail here
    brackets = text.count("[") + text.count("{")
    # Counted before parsing (the allocation is the danger), outside strings only.
    if brackets > MAX_CONTAINERS and _containers(text) > MAX_CONTAINERS:
        raise TooManyContainers()
    try:
        value = json.loads(text, parse_int=parse_int)
    except RecursionError:
        raise NestedTooDeeply() from None
    # Cheap tests first: fewer brackets than the cap cannot nest too deeply, and only a
    # \\uD800-\\uDFFF escape can make a surrogate (a valid pair decodes to one character).
    if brackets > MAX_NESTING:
        _check_nesting(value)
    if _SURROGATE_ESCAPE.search(text):
        value = _without_lone_surrogates(value)
    return value


def _containers(text: str) -> int:
    """Opening brackets outside JSON strings."""
    bare = _STRING.sub("", text)
    return bare.count("[") + bare.count("{")


def _check_nesting(value: Any) -> None:
    """``NestedTooDeeply`` when lists and dicts go deeper than ``MAX_NESTING`` levels."""
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth >= MAX_NESTING:
            raise NestedTooDeeply()
        children = current.values() if isinstance(current, dict) else current
        stack.extend((c, depth + 1) for c in children if isinstance(c, list | dict))


def _without_lone_surrogates(value: Any) -> Any:
    """A copy with every lone surrogate replaced by U+FFFD (nesting is bounded here)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            _LONE_SURROGATE.sub("\ufffd", key): _without_lone_surrogates(item)
            for key, item in value.items()
        }
    return value
