"""Telling a replaycodegen cassette from another tool's YAML cassette (vcrpy's).

pytest-recording and vcrpy write ``<test>.yaml`` files with a top-level ``interactions``
list, often in the same ``cassettes/<module>/`` folders. Such a file is never parsed as a
replaycodegen cassette, never overwritten and never appended to.
"""

from __future__ import annotations

import re
from pathlib import Path

from replaycodegen.errors import CassetteError

VCRPY_CASSETTE = "a vcrpy HTTP cassette (pytest-recording's or vcrpy's), not a replaycodegen one"
_TOP_LEVEL = re.compile(r"(?m)^(interactions|entries)\s*:")


def foreign_kind_of_text(text: str) -> str | None:
    """What the text is when it is another tool's cassette, else ``None``: from its
    top-level keys alone, without parsing it (the loader's check after parsing is
    ``replaycodegen.cassette.loading.validate.is_vcrpy_cassette``)."""
    keys = {match.group(1) for match in _TOP_LEVEL.finditer(text)}
    return VCRPY_CASSETTE if keys == {"interactions"} else None


def foreign_kind_of_file(path: Path) -> str | None:
    """:func:`foreign_kind_of_text` of a file; ``None`` when it is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return foreign_kind_of_text(text)


FOREIGN_HINT = (
    "give replaycodegen a file of its own (the pytest plugin's default name is "
    "<test>.codegen.yaml; or another path in @pytest.mark.codegen_cassette / --cassette)"
)


def refuse_foreign(path: Path) -> None:
    """Refuse to write over another tool's cassette: a ``CassetteError``, nothing written."""
    kind = foreign_kind_of_file(path)
    if kind is not None:
        raise CassetteError(f"{kind}; nothing was written", path=str(path), hint=FOREIGN_HINT)
