"""What a parse yields: the cassette and its warnings (``Parsed``), the warnings shown at
the cassette's file:line, and the ``CassetteError`` of each kind of problem."""

from __future__ import annotations

import linecache
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from replaycodegen.cassette.loading.validate import Invalid, field_name
from replaycodegen.cassette.model import Cassette
from replaycodegen.errors import CassetteError

if TYPE_CHECKING:
    import yaml

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


def yaml_error(path: str, text: str, exc: yaml.YAMLError, first_line: int = 1) -> CassetteError:
    """The ``CassetteError`` of a YAML error, at the line where the problem is.

    libyaml notices some problems on the line after them (a key without its ``:``, a flow
    collection left open); the line named is then the one the problem started on, and
    the message says where it was noticed.
    """
    import yaml  # a YAML error means yaml is imported already

    from replaycodegen.cassette.loading import compose

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


def invalid_error(invalid: Invalid, path: str, line: int | None) -> CassetteError:
    return CassetteError(
        invalid.message,
        path=path,
        line=line,
        field=field_name(invalid.where) or None,
        hint=invalid.hint,
    )


def too_deep(path: str, line: int | None = None) -> CassetteError:
    return CassetteError(
        "cassette is nested too deeply", path=path, line=line,
        hint="flatten the data (or remove a chain of aliases)",
    )


def shift(line: int | None, first_line: int) -> int | None:
    """A line of a piece of the file as a line of the file (the piece starts at
    ``first_line``)."""
    return None if line is None else line + first_line - 1
