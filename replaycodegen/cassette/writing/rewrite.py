"""One read-modify-write of a cassette's text that changes only the entries it touches.

:class:`CassetteEdit` is what ``CassetteStore.update()`` hands out (and what
``rewrite_entries`` drives): the cassette as it is on disk, operations by entry id
(``replace``, ``remove``, ``insert_before``, ``append``, ``touch``), and :meth:`render`,
which scrubs what it writes and splices it into the file's text at the spans
:mod:`~replaycodegen.cassette.writing.layout` found. Every byte outside the changed entries stays
as it was: comments, blank lines, key order, quoting, the flow style of a ``when``.

An entry counts as changed when it is a new object for its id (``replace``, or any code
that swaps entries in ``cassette.entries``), when it is new, or when it was ``touch``-ed
(changed in place). Entries that hold a secret the scrubber finds are rewritten scrubbed,
whatever the edit; a secret in a comment is replaced in place. A file whose layout is not
recognised to the character is written in the standard layout instead, with a
``CassetteWarning`` that its comments were dropped.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import warnings
from collections.abc import Iterable
from typing import Any

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.loading.loader import CassetteWarning
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.writing.layout import Layout, find_layout, quick_layout, refine
from replaycodegen.cassette.writing.serialize import dump_cassette, dump_entry, header_to_data
from replaycodegen.errors import CassetteError

_HASH_SUFFIX = "_sha256"


def scrub_entry(entry: Entry, scrubber: Scrubber) -> bool:
    """Scrub every string the entry stores, in place; True when something was replaced.

    Keyed fields are scrubbed like the rest and the entry is then keyed on the scrubbed
    text (a live request is scrubbed the same way before its key is computed), so no hash
    of a secret is stored. When anything was scrubbed, every ``*_sha256`` value in
    ``meta`` is dropped too: it may hash text that held the secret (``prompt_sha256``).
    """
    s = scrubber
    changed = False
    if entry.request is not None:
        clean = s.data(entry.request)
        chain = [
            type(e)(s.text(e.type), s.text(e.stage), s.text(e.message)) for e in entry.error_chain
        ]
        changed = clean != entry.request or chain != entry.error_chain
        entry.request, entry.error_chain = clean, chain
    if entry.when is not None and entry.when.request is not None:
        clean_when = s.data(dict(entry.when.request))
        needles = entry.when.error_contains
        clean_needles = tuple(s.text(n) for n in needles) if needles else needles
        if clean_when != dict(entry.when.request) or clean_needles != needles:
            changed = True
            entry.when = dataclasses.replace(
                entry.when, request=clean_when, error_contains=clean_needles
            )
    for name in ("description", "response", "code"):
        value = getattr(entry, name)
        if value is not None:
            clean_text = s.text(value)
            changed |= clean_text != value
            setattr(entry, name, clean_text)
    clean_meta = s.data(entry.meta)
    changed |= bool(clean_meta != entry.meta)
    if changed:
        clean_meta = {k: v for k, v in clean_meta.items() if not str(k).endswith(_HASH_SUFFIX)}
    entry.meta = clean_meta
    return changed


def _header(cassette: Cassette) -> dict[str, Any]:
    data = header_to_data(cassette)
    if data.get("match_on") == list(DEFAULT_MATCH_ON):
        data.pop("match_on")  # the default, written or not
    return data


class CassetteEdit:
    """The cassette of one locked read-modify-write, and what to change in its file."""

    def __init__(self, cassette: Cassette, text: str | None) -> None:
        self.cassette = cassette
        self.text = text
        """The file's text as read under the lock (``None``: the file is new)."""
        self._original: dict[str, Entry] = {e.id: e for e in cassette.entries}
        self._order: dict[str, int] = {e.id: i for i, e in enumerate(cassette.entries)}
        self._header = _header(cassette)
        self._touched: set[str] = set()
        self.written: str | None = None
        """The text written by the last :meth:`render` (``None``: nothing changed)."""
        self.kept_layout = True
        """False when the file was rewritten in the standard layout (comments dropped)."""

    # -- reading ----------------------------------------------------------------------------
    def get(self, entry_id: str) -> Entry:
        for entry in self.cassette.entries:
            if entry.id == entry_id:
                return entry
        ids = [e.id for e in self.cassette.entries]
        shown = ", ".join(ids[:12]) + (f", ... ({len(ids)} in all)" if len(ids) > 12 else "")
        raise CassetteError(
            f"no entry with id {entry_id!r}",
            path=self.cassette.path,
            hint=f"use one of: {shown}" if ids else "the cassette has no entries",
        )

    def original(self, entry_id: str) -> Entry | None:
        """The entry as it was read, if it is still the same object (not replaced)."""
        return self._original.get(entry_id)

    # -- changing ---------------------------------------------------------------------------
    def replace(self, entry: Entry) -> None:
        """Put ``entry`` where the entry with its id is."""
        self.get(entry.id)
        self._derive(entry)
        self.cassette.replace_entries(
            [entry if e.id == entry.id else e for e in self.cassette.entries], derive=False
        )

    def insert_before(self, entry_id: str, entries: Iterable[Entry]) -> None:
        """Insert new entries in front of ``entry_id`` (ids made unique)."""
        self.get(entry_id)
        new = list(entries)
        taken: set[str] = set()
        for entry in new:
            if not entry.id or self.cassette.has_id(entry.id) or entry.id in taken:
                number = len(self.cassette.entries) + len(taken) + 1
                while self.cassette.has_id(f"e{number}") or f"e{number}" in taken:
                    number += 1
                entry.id = f"e{number}"
            taken.add(entry.id)
        out: list[Entry] = []
        for current in self.cassette.entries:
            if current.id == entry_id:
                out.extend(new)
            out.append(current)
        for entry in new:
            self._derive(entry)
        self.cassette.replace_entries(out, derive=False)

    def remove(self, ids: Iterable[str]) -> list[Entry]:
        """Remove the entries with these ids; returns those that were there."""
        wanted = set(ids)
        removed = [e for e in self.cassette.entries if e.id in wanted]
        if removed:
            self.cassette.replace_entries(
                [e for e in self.cassette.entries if e.id not in wanted], derive=False
            )
        return removed

    def clear(self) -> list[Entry]:
        """Remove every entry (record mode ``rewrite``); the header and comments stay."""
        return self.remove([e.id for e in self.cassette.entries])

    def append(self, entry: Entry) -> Entry:
        """Add ``entry`` at the end (a free id if its own is empty or taken)."""
        if not entry.id or self.cassette.has_id(entry.id):
            entry.id = self.cassette.next_id()
        self.cassette.add(entry)
        return entry

    def touch(self, *entry_ids: str) -> None:
        """Mark entries changed in place, so that they are written again."""
        self._touched.update(entry_ids)

    def _derive(self, entry: Entry) -> None:
        if entry.request is not None and entry.when is None:
            entry.key, entry.keyed_on_placeholder = entry.derive(self.cassette.match_on)

    # -- writing ----------------------------------------------------------------------------
    def _is_new(self, entry: Entry) -> bool:
        return self._original.get(entry.id) is not entry or entry.id in self._touched

    def render(self, scrubber: Scrubber, *, display_path: str | None = None) -> str | None:
        """The file's new text, scrubbed, or ``None`` when nothing would change."""
        cassette = self.cassette
        if cassette.description is not None:
            cassette.description = scrubber.text(cassette.description)
        layout = self._layout()
        secret_outside = layout is not None and self._touch_secrets(layout, scrubber)
        rewritten = [e for e in cassette.entries if self._is_new(e)]
        for entry in rewritten if layout is not None else cassette.entries:
            scrub_entry(entry, scrubber)
            self._derive(entry)
        cassette.replace_entries(cassette.entries, derive=False)
        final_ids = {e.id for e in cassette.entries}
        removed = any(entry_id not in final_ids for entry_id in self._original)
        if layout is not None and not layout.precise:
            layout = refine(layout, self._moved(final_ids)) or self._layout(precise=True)
        header = _header(cassette)
        if layout is None:
            if self.text is not None:
                self.kept_layout = False
                warnings.warn(
                    f"{display_path or cassette.path}: the file's layout was not recognised "
                    "to the character, so it was written in the standard layout (its "
                    "comments were dropped)",
                    CassetteWarning,
                    stacklevel=4,
                )
            self.written = dump_cassette(cassette)
            return self.written
        torn = layout.end < len(layout.text)
        changed = bool(rewritten) or removed or header != self._header or torn or secret_outside
        if not changed:
            self.written = None
            return None
        self.written = _Splicer(layout, scrubber, self._header, header).render(
            cassette.entries, self._order, self._is_new
        )
        return self.written

    def _layout(self, *, precise: bool = False) -> Layout | None:
        if self.text is None:
            return None
        ids, torn = list(self._original), self.cassette.torn_tail
        quick = None if precise else quick_layout(self.text, ids, torn_tail=torn)
        return quick or find_layout(self.text, ids, torn_tail=torn)

    def _moved(self, final_ids: set[str]) -> set[int]:
        """Indexes of the original entries whose text is not kept in place: removed,
        rewritten, or out of their old order."""
        moved = {i for entry_id, i in self._order.items() if entry_id not in final_ids}
        last = -1
        for entry in self.cassette.entries:
            index = self._order.get(entry.id)
            if index is None:
                continue
            if index <= last or self._is_new(entry):
                moved.add(index)
            last = max(last, index)
        return moved

    def _touch_secrets(self, layout: Layout, scrubber: Scrubber) -> bool:
        """Mark entries whose text holds a secret (one pass over the file's text); True
        when a secret sits outside every entry (a header line or a comment between)."""
        items = layout.items or []
        starts = [span.start for span in items]
        ids = list(self._original)
        outside = False
        for offset in scrubber.secret_starts(layout.text[: layout.end]):
            index = bisect.bisect_right(starts, offset) - 1
            if index >= 0 and offset < items[index].end:
                self._touched.add(ids[index])
            else:
                outside = True
        return outside


class _Splicer:
    """Builds the new text from the old one: kept spans verbatim, changed ones dumped."""

    def __init__(self, layout: Layout, scrubber: Scrubber, before: dict[str, Any],
                 after: dict[str, Any]) -> None:
        self.layout = layout
        self.text = layout.text
        self.scrubber = scrubber
        self.before = before
        self.after = after
        self.previous: tuple[int | None, str] = (None, "")
        """The original index (``None``: new text) and text of the last item emitted."""

    def gap(self, start: int, end: int) -> str:
        """Comments and blank lines between spans (secrets replaced in place)."""
        return self.scrubber.text(self.text[start:end])

    def render(self, entries: list[Entry], order: dict[str, int],
               is_new: Any) -> str:
        layout, out = self.layout, []
        position = 0
        spans = sorted(layout.top.items(), key=lambda item: item[1].start)
        added = [k for k in self.after if k not in layout.top and k != "version"]
        for name, span in spans:
            out.append(self.gap(position, span.start))
            position = span.end
            if name == "entries":
                out.append(self.entries(entries, order, is_new))
                continue
            if name in ("description", "match_on", "repeat_last", "version") and (
                self.before.get(name) != self.after.get(name)
            ):
                if name in self.after:
                    out.append(yamlio.dump({name: self.after[name]}))
            else:  # kept as written, a secret in its comment replaced
                out.append(self.scrubber.text(self.text[span.start : span.end]))
            if name == "version" and added:
                out.append(yamlio.dump({k: self.after[k] for k in added}))
                added = []
        last_item = len(layout.items) - 1 if layout.items else None
        tail = self.gap(position, layout.end)
        out.append(self.seam(last_item, tail) if last_item is not None else tail)
        if added:  # no version line (cannot load today, but be safe)
            out.insert(0, yamlio.dump({k: self.after[k] for k in added}))
        if "entries" not in layout.top and entries:
            out.append("entries:\n" + "".join(dump_entry(e) for e in entries))
        return _joined(out)

    def entries(self, entries: list[Entry], order: dict[str, int], is_new: Any) -> str:
        layout, text = self.layout, self.text
        field = layout.top["entries"]
        items = layout.items
        if not items:
            if not entries:
                return text[field.start : field.end]
            return "entries:\n" + "".join(dump_entry(e, layout.indent) for e in entries)
        out = [self.gap(field.start, items[0].start)]
        pending: list[str] = []
        last = -1

        def gap_before(index: int) -> None:
            out.append(self.seam(index - 1, self.gap(items[index - 1].end, items[index].start)))

        def item(text_: str, index: int | None) -> None:
            out.append(text_)
            self.previous = (index, text_)

        for entry in entries:
            index = order.get(entry.id)
            if index is None or index <= last:
                pending.append(dump_entry(entry, layout.indent))
                continue
            for skipped in range(last + 1, index + 1):
                if skipped > 0:
                    gap_before(skipped)
                # new entries go where the first entry removed before them was
                for dumped in pending:
                    item(dumped, None)
                pending = []
            if is_new(entry):
                item(dump_entry(entry, layout.indent), None)
            else:
                item(_with_newline(text[items[index].start : items[index].end]), index)
            last = index
        for dumped in pending:
            item(dumped, None)
        for skipped in range(max(last + 1, 1), len(items)):
            gap_before(skipped)
        return "".join(out)

    def seam(self, predecessor: int, gap: str) -> str:
        """``gap`` as it may follow the item emitted last: blank lines that originally
        followed item ``predecessor`` would join a ``|+`` block of another item."""
        index, text = self.previous
        if index != predecessor and _KEEP_BLOCK.search(text):
            return _drop_blank_lead(gap)
        return gap


_KEEP_BLOCK = re.compile(r"[|>](?:[1-9]?\+|\+[1-9]?)[ \t]*(?:#[^\n]*)?\n")


def _drop_blank_lead(gap: str) -> str:
    lines = gap.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines)


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _joined(parts: list[str]) -> str:
    out: list[str] = []
    for part in parts:
        if part and out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        if part:
            out.append(part)
    return "".join(out)
