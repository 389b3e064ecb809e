"""How re-recording changes a cassette file: in place, through the store's one locked
read-modify-write (``CassetteStore.update``), so every entry it does not touch stays as it
is to the byte, comments included.

- :func:`replace_entry_in_place`: record mode ``stale`` puts a new recording where the
  stale entry was (same id, same position);
- :func:`reset_keeping_kept`: record mode ``rewrite`` empties the cassette but keeps its
  crafted and hand entries (and the header and comments).
"""

from __future__ import annotations

from collections.abc import Sequence

from replaycodegen.cassette.loading.foreign import refuse_foreign
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.provenance import is_kept
from replaycodegen.cassette.writing.rewrite import CassetteEdit
from replaycodegen.cassette.writing.store import CassetteStore, check_writable
from replaycodegen.errors import CassetteError


def replace_entry_in_place(store: CassetteStore, cassette: Cassette, old_id: str,
                           new: Entry) -> Entry | None:
    """Put ``new`` where entry ``old_id`` is (same position, same id), scrubbed, and write;
    ``cassette`` adopts the file's entries (other writers' appends included).

    Returns the entry it replaced (``None`` if ``old_id`` is no longer in the file, in which
    case ``new`` is appended).
    """
    with store.update() as edit:
        old = next((e for e in edit.cassette.entries if e.id == old_id), None)
        if old is None:
            new.id = ""
            edit.append(new)
        else:
            new.id = old_id
            edit.replace(new)
    cassette.replace_entries(edit.cassette.entries, derive=False)
    return old


def reset_keeping_kept(store: CassetteStore, *, match_on: Sequence[str] | None = None,
                       description: str | None = None) -> list[Entry]:
    """Remove every entry but the crafted and hand ones (record mode ``rewrite``), keeping
    the header and comments; returns what was removed. A file that does not load is
    refused, never replaced. (``CassetteStore.reset`` with a filter: the same locked
    read-modify-write and the same refusal.)"""
    check_writable(store.target)  # its own errors (read-only...) are not load errors
    refuse_foreign(store.target)  # another tool's file: not "repair it or delete it"
    edit: CassetteEdit | None = None
    try:
        with store.update(create=True) as edit:
            removed = edit.remove([e.id for e in edit.cassette.entries if not is_kept(e)])
            if match_on is not None:
                edit.cassette.match_on = tuple(match_on)
            if description is not None:
                edit.cassette.description = description
    except CassetteError as exc:
        if edit is not None:  # it loaded: the write failed, and says so
            raise
        raise CassetteError(
            f"record mode 'rewrite' will not replace a cassette it cannot load: {exc.reason}",
            path=exc.path, line=exc.line, field=exc.field,
            hint=f"repair it (`replaycodegen lint {store.path}` names the problem) or delete "
            "the file to record it afresh",
        ) from None
    return removed
