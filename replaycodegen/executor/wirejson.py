"""JSON that the generated code sent over the control channel, made safe to keep.

The service keeps what the code sends (its results, the values it writes) and later
writes it to ``control_system.json``, ``outcome.json`` and the notebook, and hands it to
the caller. So every frame is parsed as strict UTF-8, refused when nested deeper than
``MAX_NESTING`` levels (Python's own ``json.dumps(indent=...)``, ``pprint`` and
nbformat recurse once per level and would crash on a few hundred), and any lone
surrogate (``"\\udcff"``: what ``os.listdir`` makes of a file name that is not UTF-8) is
replaced by U+FFFD, which no UTF-8 writer can refuse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_NESTING", "NestedTooDeeply", "parse_untrusted"]

MAX_NESTING = 128  # the bootstrap cuts results at 100 levels, so code never reaches it
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class NestedTooDeeply(ValueError):
    """A frame holds lists or dicts nested deeper than ``MAX_NESTING`` levels."""

    def __init__(self) -> None:
        super().__init__(f"nested deeper than {MAX_NESTING} levels")


def parse_untrusted(body: bytes, parse_int: Callable[[str], Any] | None = None) -> Any:
    """``body`` as JSON data, bounded and clean; ``ValueError`` when it is not UTF-8 JSON,
    ``NestedTooDeeply`` when nested too deeply."""
    text = body.decode("utf-8")  # strict: encoded surrogates and other encodings fail here
    try:
        value = json.loads(text, parse_int=parse_int)
    except RecursionError:
        raise NestedTooDeeply() from None
    # Cheap tests first: fewer brackets than the cap cannot nest too deeply, and only a
    # \\uD800-\\uDFFF escape can make a surrogate (a valid pair decodes to one character).
    may_nest = text.count("[") + text.count("{") > MAX_NESTING
    if may_nest or _SURROGATE_ESCAPE.search(text):
        return _cleaned(value, 0)
    return value


def _cleaned(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list | dict):
        if depth >= MAX_NESTING:
            raise NestedTooDeeply()
        if isinstance(value, list):
            return [_cleaned(item, depth + 1) for item in value]
        return {
            _LONE_SURROGATE.sub("\ufffd", key): _cleaned(item, depth + 1)
            for key, item in value.items()
        }
    return value
