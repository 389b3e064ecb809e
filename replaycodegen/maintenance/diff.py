"""What changed between two cassettes, entry by entry."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from replaycodegen.cassette.model import Cassette, Entry


@dataclass(frozen=True)
class EntryChange:
    """One difference between two cassettes; ``before``/``after`` is ``None`` when absent."""

    status: str  # "added", "removed" or "changed"
    match: str  # "key <sha256>" or "pattern id <id>"
    before: Entry | None
    after: Entry | None
    fields: tuple[str, ...] = ()

    @property
    def entry_id(self) -> str:
        entry = self.after or self.before
        assert entry is not None
        return entry.id

    def code_diff(self, path_a: str = "a", path_b: str = "b") -> list[str]:
        """A unified diff of the code (empty unless the code changed)."""
        if self.before is None or self.after is None or "code" not in self.fields:
            return []
        return list(difflib.unified_diff(
            self.before.code.splitlines(), self.after.code.splitlines(),
            f"{path_a} ({self.before.id})", f"{path_b} ({self.after.id})", lineterm="",
        ))

    def to_data(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "match": self.match,
            "id": self.entry_id,
            "before_id": self.before.id if self.before else None,
            "after_id": self.after.id if self.after else None,
            "fields": list(self.fields),
        }


@dataclass
class CassetteDiff:
    """What changed from cassette ``a`` to cassette ``b``."""

    changes: list[EntryChange] = field(default_factory=list)
    unchanged: int = 0
    match_on_changed: bool = False

    def of(self, status: str) -> list[EntryChange]:
        return [c for c in self.changes if c.status == status]

    @property
    def differs(self) -> bool:
        return bool(self.changes) or self.match_on_changed


_COMPARED = ("code", "response", "description", "meta")


def _slots(cassette: Cassette) -> dict[str, list[Entry]]:
    """Entries by what they match: recorded ones by key, patterns by id (in file order)."""
    slots: dict[str, list[Entry]] = {}
    for entry in cassette.entries:
        slot = f"pattern id {entry.id}" if entry.is_pattern else f"key {entry.key}"
        slots.setdefault(slot, []).append(entry)
    return slots


def _changed_fields(a: Entry, b: Entry) -> tuple[str, ...]:
    changed = [name for name in _COMPARED if getattr(a, name) != getattr(b, name)]
    if a.when != b.when:
        changed.insert(0, "when")
    if a.id != b.id:
        changed.insert(0, "id")
    return tuple(changed)


def diff_cassettes(a: Cassette, b: Cassette) -> CassetteDiff:
    """Entries added, removed and changed, matched by key (recorded) or id (patterns)."""
    result = CassetteDiff(match_on_changed=tuple(a.match_on) != tuple(b.match_on))
    before, after = _slots(a), _slots(b)
    for slot in [*before, *(s for s in after if s not in before)]:
        old, new = before.get(slot, []), after.get(slot, [])
        for i in range(max(len(old), len(new))):
            x = old[i] if i < len(old) else None
            y = new[i] if i < len(new) else None
            if x is None:
                result.changes.append(EntryChange("added", slot, None, y))
            elif y is None:
                result.changes.append(EntryChange("removed", slot, x, None))
            else:
                changed = _changed_fields(x, y)
                if changed:
                    result.changes.append(EntryChange("changed", slot, x, y, changed))
                else:
                    result.unchanged += 1
    return result
