"""Pull the Python code out of an LLM's reply: fences, prose, several blocks, or none.

Rules, in order:

1. Line endings are normalised (``\\r\\n`` and ``\\r`` become ``\\n``).
2. A fence is a line holding three or more backticks or tildes (any indentation), with an
   optional info string; its first word is the language (``python``, ``py``, ``python3``...).
   The block ends at a line holding only the same character, at least as many times; an
   unclosed block runs to the end of the text (a reply cut by ``max_tokens``).
3. The code is the last block tagged as Python; failing that, the last untagged block;
   failing that, the last block in any language.
4. No fenced block at all: the whole text.

The chosen text is dedented and stripped; an empty result is ``""`` (the caller decides
what an empty answer means).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3", "ipython", "pycon"})
"""Info-string words that mark a fenced block as Python (compared lowercased)."""

_OPENING_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block: its language tag (lowercased, ``""`` when bare) and its body."""

    language: str
    body: str


def extract_code(text: str) -> str:
    """Return the Python code in ``text`` (see the module docstring for the rules)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = fenced_blocks(normalised)
    if not blocks:
        return normalised.strip()
    chosen = (
        _last(b for b in blocks if b.language in PYTHON_TAGS)
        or _last(b for b in blocks if b.language == "")
        or blocks[-1]
    )
    return textwrap.dedent(chosen.body).strip()


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of ``text`` in order, the last one possibly unclosed."""
    blocks: list[FencedBlock] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _OPENING_FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        fence = opening["fence"]
        info = opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        body: list[str] = []
        while index < len(lines) and not _closes(lines[index], fence):
            body.append(lines[index])
            index += 1
        index += 1  # skip the closing fence (or step past the end)
        blocks.append(FencedBlock(language=language, body="\n".join(body)))
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def _last(blocks: Iterable[FencedBlock]) -> FencedBlock | None:
    found: FencedBlock | None = None
    for block in blocks:
        found = block
    return found
