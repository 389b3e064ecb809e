"""Stored keys that disagree with their entries (``rehash``), and 0.1's pinned keys."""

from __future__ import annotations

from replaycodegen.cassette.model import Cassette, Entry


def stale_keys(cassette: Cassette) -> list[Entry]:
    """Recorded entries whose stored key disagrees with their request, or is missing."""
    return [
        e for e in cassette.entries
        if not e.is_pattern and (e.key_disagrees or e.stored_key is None)
    ]


def pinned_keys(cassette: Cassette) -> list[Entry]:
    """Entries written by replaycodegen 0.1 with ``scrubbed:``: their key is the sha256 of
    the request before scrubbing, from which an offline guess can recover a weak secret."""
    return [e for e in cassette.entries if e.pins_key]


def unpin(entry: Entry) -> None:
    """Drop the pinned key of an 0.1 entry: it is then keyed on its scrubbed text, which a
    live request scrubbed the same way finds (call ``CassetteEdit.touch`` after)."""
    entry.scrubbed = []
    entry.stored_key = None
