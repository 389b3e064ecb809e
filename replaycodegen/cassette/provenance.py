"""Where an entry's code came from, and whether it is still what the recorder wrote.

Every entry has an origin: ``recorded`` (a real generator), ``crafted`` (``replaycodegen
craft``, with ``derived_from``) or ``hand`` (written or deliberately kept by a person). Old
files default by kind (see ``Entry.effective_origin``). Re-recording (record modes ``all``,
``rewrite``, ``stale``) replaces only ``recorded`` entries: crafted and hand entries are
kept. The recorder stores ``meta.code_sha256``, the sha256 of the code it wrote, so a
recorded entry whose code was later edited by hand can be told apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from replaycodegen.cassette.model import Entry
from replaycodegen.cassette.writing.serialize import clean_code

RECORDED = "recorded"
KEPT_ORIGINS: frozenset[str] = frozenset({"crafted", "hand"})
"""Origins that re-recording never replaces or drops."""

HAND_EDITED_HINT = "mark `origin: hand` to keep it"


def code_sha256(code: str) -> str:
    """The sha256 (hex) of code as a cassette stores it (trailing blanks stripped)."""
    return hashlib.sha256(clean_code(code).encode("utf-8")).hexdigest()


def is_kept(entry: Entry) -> bool:
    """True for crafted and hand entries: re-recording keeps them as they are."""
    return entry.effective_origin in KEPT_ORIGINS


def kept_entries(entries: Iterable[Entry]) -> list[Entry]:
    return [entry for entry in entries if is_kept(entry)]


def hand_edited(entry: Entry) -> bool:
    """A recorded entry whose code no longer has the sha256 the recorder stored.

    Entries recorded before replaycodegen stored ``meta.code_sha256`` cannot be checked
    (``False``).
    """
    stored = entry.meta.get("code_sha256")
    if entry.effective_origin != RECORDED or not isinstance(stored, str):
        return False
    return code_sha256(entry.code) != stored


def describe_kept(entries: Iterable[Entry]) -> str:
    """``"2 crafted (e1-inject-timeout, e1), 1 hand (catch-all)"``; ``""`` for none."""
    by_origin: dict[str, list[str]] = {}
    for entry in entries:
        by_origin.setdefault(entry.effective_origin, []).append(entry.id)
    return ", ".join(
        f"{len(ids)} {origin} ({', '.join(ids)})" for origin, ids in sorted(by_origin.items())
    )
