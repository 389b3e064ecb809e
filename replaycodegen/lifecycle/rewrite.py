"""The one place a scoped re-recording replaces entries of a cassette file in place.

Kept behind this function so that it can switch to the store's comment-preserving entry
rewrite in one line once that exists; until then it merges other writers' appends under
the store's lock and writes the whole file (comments elsewhere in the file are lost).
"""

from __future__ import annotations

from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.store import CassetteStore


def replace_entry_in_place(store: CassetteStore, cassette: Cassette, old_id: str,
                           new: Entry) -> Entry | None:
    """Put ``new`` where entry ``old_id`` is (same position, same id), scrubbed, and write.

    Returns the entry it replaced (``None`` if ``old_id`` is no longer in the file, in which
    case ``new`` is appended).
    """
    with store.locked():
        store._sync(cassette)
        entries = list(cassette.entries)
        index = next((i for i, e in enumerate(entries) if e.id == old_id), None)
        if index is None:
            new.id = ""
            store.add(cassette, new)
            return None
        old = entries[index]
        new.id = old_id
        entries[index] = new
        cassette.replace_entries(entries)
        store.scrub_entry(new)
        store._write_all(cassette)
        return old
