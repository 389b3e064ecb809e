"""A cassette in memory: ordered entries, an O(1) key index, pattern entries, playback state.

Lookup order: exact key first, then hand-authored patterns in file order. Entries that
share a key (or an identical pattern) play in file order; once all have played, the last
one repeats (``repeat_last=True``, the default) or the lookup misses with reason
"all matches already played".
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from replaycodegen.cassette.keys import (
    DEFAULT_MATCH_ON,
    canonical_json,
    chain_item_fields,
    fingerprint_fields,
    key_chain,
    key_payload,
    normalize_error_text,
    request_fields,
)
from replaycodegen.cassette.scrub import PLACEHOLDER, Scrubber
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest, error_text

CASSETTE_VERSION = 1

ORIGINS: tuple[str, ...] = ("recorded", "crafted", "hand")
"""Where an entry's code came from: a real generator, ``craft``, or a person."""


@dataclass(frozen=True, slots=True)
class RecordedError:
    """One error of a recorded chain: what entered the key, plus the original message."""

    type: str
    stage: str
    message: str

    @property
    def normalized(self) -> str:
        return normalize_error_text(self.message)

    @classmethod
    def from_item(cls, item: ErrorChainItem) -> RecordedError:
        error_type, stage, message = chain_item_fields(item)
        return cls(error_type, stage, message)

    def key_fields(self) -> list[str]:
        return [self.type, self.stage, self.normalized]


@dataclass(frozen=True, slots=True)
class Pattern:
    """What a hand-authored entry matches instead of a key. All given conditions must hold.

    ``request``: keyed fields that must be equal (a subset); ``attempt``: the attempt number
    (error chain length + 1); ``error_contains``: any of these strings occurs in the text of
    the error chain (case-insensitive). No condition at all matches every request.
    """

    request: Mapping[str, Any] | None = None
    attempt: int | None = None
    error_contains: tuple[str, ...] | None = None

    def matches(self, fields: Mapping[str, Any], attempt: int, chain_text: str) -> bool:
        if self.attempt is not None and attempt != self.attempt:
            return False
        if self.error_contains is not None and not any(
            needle.lower() in chain_text for needle in self.error_contains
        ):
            return False
        if self.request is not None:
            for name, expected in self.request.items():
                if name not in fields or canonical_json(fields[name]) != canonical_json(expected):
                    return False
        return True

    def group_id(self) -> str:
        return "when:" + canonical_json(self.to_data()).decode("utf-8")

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.request is not None:
            data["request"] = dict(self.request)
        if self.attempt is not None:
            data["attempt"] = self.attempt
        if self.error_contains is not None:
            needles = list(self.error_contains)
            data["error_contains"] = needles[0] if len(needles) == 1 else needles
        return data

    def describe(self) -> str:
        parts = []
        if self.request is not None:
            parts.append("request " + ", ".join(f"{k}={v!r}" for k, v in self.request.items()))
        if self.attempt is not None:
            parts.append(f"attempt {self.attempt}")
        if self.error_contains is not None:
            parts.append("errors mention " + " or ".join(repr(n) for n in self.error_contains))
        return "; ".join(parts) or "any request"


@dataclass(slots=True)
class Entry:
    """One entry: recorded (``request`` + ``error_chain`` -> key) or a pattern (``when``)."""

    id: str
    code: str
    request: dict[str, Any] | None = None
    error_chain: list[RecordedError] = field(default_factory=list)
    when: Pattern | None = None
    stored_key: str | None = None
    key: str | None = None
    response: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    scrubbed: list[str] = field(default_factory=list)
    description: str | None = None
    origin: str | None = None
    """As written in the file (``None``: not written; see ``effective_origin``)."""
    derived_from: str | None = None
    """For a crafted entry: the id of the entry it was made from."""
    keyed_on_placeholder: bool = field(default=False, repr=False, compare=False)
    """Its key covers ``<SCRUBBED>`` text (set when the key is derived)."""

    @property
    def is_pattern(self) -> bool:
        return self.when is not None

    @property
    def effective_origin(self) -> str:
        """``origin``, else the default of old files: ``hand`` for patterns, else ``recorded``."""
        if self.origin is not None:
            return self.origin
        return "hand" if self.when is not None else "recorded"

    @property
    def group_id(self) -> str:
        if self.when is not None:
            return self.when.group_id()
        assert self.key is not None
        return self.key

    def derive_key(self, match_on: Sequence[str]) -> str:
        """Recompute the key from the stored request fields and chain (a pinned key wins)."""
        return self.derive(match_on)[0]

    def derive(self, match_on: Sequence[str]) -> tuple[str, bool]:
        """The key, and whether the keyed text holds a ``<SCRUBBED>`` placeholder."""
        assert self.request is not None
        if self.pins_key:
            assert self.stored_key is not None
            return self.stored_key, True
        request = self.request
        fields = {  # the default only for a field the entry leaves out (it costs)
            name: request[name] if name in request else _default_of(name) for name in match_on
        }
        payload = key_payload(fields, [e.key_fields() for e in self.error_chain])
        return hashlib.sha256(payload).hexdigest(), _PLACEHOLDER_BYTES in payload

    @property
    def pins_key(self) -> bool:
        """An entry written by replaycodegen 0.1 with ``scrubbed:``: its stored key is the
        sha256 of the request *before* scrubbing (kept to replay it; ``rehash`` drops it)."""
        return bool(self.scrubbed) and bool(self.stored_key)

    @property
    def key_disagrees(self) -> bool:
        return self.stored_key is not None and self.key is not None and self.stored_key != self.key


_PLACEHOLDER_BYTES = PLACEHOLDER.encode("utf-8")


def _default_of(name: str) -> Any:
    info = PythonExecutionRequest.model_fields[name]
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


@dataclass(slots=True)
class Selection:
    """The outcome of a lookup: the entry served and whether it was a repeat of the last."""

    entry: Entry
    repeated: bool


class Cassette:
    """Ordered entries with an exact-key index and playback counters."""

    def __init__(
        self,
        entries: Iterable[Entry] = (),
        *,
        path: str | None = None,
        match_on: Sequence[str] = DEFAULT_MATCH_ON,
        description: str | None = None,
        repeat_last: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.match_on: tuple[str, ...] = tuple(match_on)
        self.description = description
        self.repeat_last = repeat_last
        self.extra: dict[str, Any] = dict(extra or {})
        self.torn_tail = False
        """True when the file's last entry was cut short by a killed writer and ignored."""
        self.scrubber: Scrubber | None = None
        """Scrubs a live request that missed, to find entries keyed on scrubbed text
        (``None``: a default ``Scrubber()``, made at the first such miss)."""
        self._scrubbed_entries = 0
        self.entries: list[Entry] = []
        self._ids: set[str] = set()
        self._next_number = 1
        self._groups: dict[str, list[Entry]] = {}
        self._pattern_groups: list[list[Entry]] = []
        self._played: dict[str, int] = {}
        self.played_ids: set[str] = set()
        for entry in entries:
            self.add(entry)

    # -- building -------------------------------------------------------------------------
    def add(self, entry: Entry, *, derive: bool = True) -> Entry:
        """Append an entry (deriving its key unless ``derive=False``) and index it."""
        if entry.request is not None and entry.when is None:
            if derive or entry.key is None:
                entry.key, entry.keyed_on_placeholder = entry.derive(self.match_on)
            self._scrubbed_entries += entry.keyed_on_placeholder
        elif entry.when is not None and entry.when.request is not None:
            self._scrubbed_entries += PLACEHOLDER in repr(entry.when.request)
        self.entries.append(entry)
        self._ids.add(entry.id)
        group = self._groups.get(entry.group_id)
        if group is None:
            group = self._groups[entry.group_id] = []
            if entry.when is not None:
                self._pattern_groups.append(group)
        group.append(entry)
        return entry

    def replace_entries(self, entries: Iterable[Entry], *, derive: bool = True) -> None:
        """Swap in a new list of entries, keeping playback counters by group.

        ``derive=False`` keeps the keys the entries have (they are up to date)."""
        played, ids = self._played, self.played_ids
        self.entries, self._groups, self._pattern_groups = [], {}, []
        self._ids = set()
        self._scrubbed_entries = 0
        for entry in entries:
            self.add(entry, derive=derive)
        self._played, self.played_ids = played, ids

    def remove_group(self, group_id: str) -> list[Entry]:
        """Drop every entry of one key (used when re-recording in ``all`` mode)."""
        removed = self._groups.get(group_id, [])
        if removed:
            keep = [e for e in self.entries if e.group_id != group_id]
            self.replace_entries(keep)
            self._played.pop(group_id, None)
        return removed

    def entry_ids(self) -> set[str]:
        """A copy of the ids in use (an entry's id is fixed once it is added)."""
        return set(self._ids)

    def has_id(self, entry_id: str) -> bool:
        return entry_id in self._ids

    def next_id(self, prefix: str = "e") -> str:
        """The first free ``<prefix>N`` at or after the number of entries + 1 (amortised O(1))."""
        n = max(self._next_number, len(self.entries) + 1)
        while f"{prefix}{n}" in self._ids:
            n += 1
        self._next_number = n
        return f"{prefix}{n}"

    # -- lookup ---------------------------------------------------------------------------
    def key_for(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        return fingerprint_fields(request_fields(request, self.match_on), key_chain(error_chain))

    @property
    def holds_scrubbed_text(self) -> bool:
        """Some entry is keyed on (or a pattern matches) text with ``<SCRUBBED>`` in it."""
        return self._scrubbed_entries > 0

    def scrubbed_fields(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> tuple[dict[str, Any], list[list[str]]] | None:
        """The keyed fields and key chain of a live request scrubbed as a write scrubs them
        (the fields as JSON data, the chain normalised), or ``None`` when scrubbing changes
        nothing: what a recorded entry with a secret is keyed on."""
        scrubber = self.scrubber
        if scrubber is None:
            scrubber = self.scrubber = Scrubber()
        fields = json.loads(canonical_json(request_fields(request, self.match_on)))
        clean = scrubber.data(fields)
        raw_chain = [chain_item_fields(item) for item in error_chain]
        chain = [[scrubber.text(part) for part in item] for item in raw_chain]
        if clean == fields and chain == [list(item) for item in raw_chain]:
            return None
        return clean, [[t, s, normalize_error_text(m)] for t, s, m in chain]

    def resolve_key(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem],
        key: str | None = None,
    ) -> str:
        """The key this request finds its entries under: its plain key (an O(1) hit, as
        always), else, when the cassette holds scrubbed entries and scrubbing changes the
        request, the key of the scrubbed request; the plain key when neither has entries."""
        if key is None:
            key = self.key_for(request, error_chain)
        if key in self._groups or not self._scrubbed_entries:
            return key
        scrubbed = self.scrubbed_fields(request, error_chain)
        if scrubbed is not None:
            clean_key = fingerprint_fields(*scrubbed)
            if clean_key in self._groups:
                return clean_key
        return key

    def group(self, key: str) -> list[Entry]:
        return self._groups.get(key, [])

    def select(
        self,
        request: PythonExecutionRequest,
        error_chain: Sequence[ErrorChainItem],
        *,
        key: str | None = None,
        allow_repeat: bool | None = None,
    ) -> Selection | None:
        """Serve the next entry for this request, or ``None`` on a miss.

        Exact key first (O(1)), then patterns in file order. ``allow_repeat`` defaults to
        the cassette's ``repeat_last``.
        """
        repeat = self.repeat_last if allow_repeat is None else allow_repeat
        key = self.resolve_key(request, error_chain, key)
        group = self._groups.get(key)
        if group:
            return self._play(key, group, repeat)
        if not self._pattern_groups:
            return None
        fields = request_fields(request, self.match_on)
        attempt = len(error_chain) + 1
        raw_text = "\n".join(error_text(item) for item in error_chain)
        found = self._match_pattern(fields, attempt, raw_text.lower())
        if found is None and self._scrubbed_entries:
            scrubbed = self.scrubbed_fields(request, error_chain)
            if scrubbed is not None:
                assert self.scrubber is not None
                clean_text = self.scrubber.text(raw_text).lower()
                found = self._match_pattern(scrubbed[0], attempt, clean_text)
        return self._play(found[0].group_id, found, repeat) if found is not None else None

    def _match_pattern(
        self, fields: Mapping[str, Any], attempt: int, chain_text: str
    ) -> list[Entry] | None:
        for group in self._pattern_groups:
            when = group[0].when
            assert when is not None
            if when.matches(fields, attempt, chain_text):
                return group
        return None

    def _play(self, group_id: str, group: list[Entry], repeat: bool) -> Selection | None:
        index = self._played.get(group_id, 0)
        if index < len(group):
            self._played[group_id] = index + 1
            entry, repeated = group[index], False
        elif repeat:
            entry, repeated = group[-1], True
        else:
            return None
        self.played_ids.add(entry.id)
        return Selection(entry, repeated)

    def set_position(self, group_id: str, played: int) -> None:
        """Pretend ``played`` entries of a group have played already."""
        self._played[group_id] = played

    def exhausted(self, key: str) -> bool:
        """True when the key has entries and all of them have played."""
        group = self._groups.get(key, [])
        return bool(group) and self._played.get(key, 0) >= len(group)

    def rewind(self) -> None:
        """Forget what has played (the entries stay)."""
        self._played.clear()
        self.played_ids.clear()

    def playback_copy(self) -> Cassette:
        """A cassette sharing these entries and their index, with playback state of its own
        (one parse serves many tests; each test plays from the start)."""
        clone = copy.copy(self)
        clone._played = {}
        clone.played_ids = set()
        return clone

    def unused(self) -> list[Entry]:
        return [e for e in self.entries if e.id not in self.played_ids]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Cassette(path={self.path!r}, entries={len(self.entries)})"


def entry_from_pair(
    *,
    entry_id: str,
    request: PythonExecutionRequest,
    error_chain: Sequence[ErrorChainItem],
    code: str,
    match_on: Sequence[str],
    response: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Entry:
    """A recorded entry for a (request, error chain) -> code pair."""
    fields = {
        name: json.loads(canonical_json(value))
        for name, value in request_fields(request, match_on).items()
    }
    return Entry(
        id=entry_id,
        code=code,
        request=fields,
        error_chain=[RecordedError.from_item(item) for item in error_chain],
        response=response,
        meta=dict(meta or {}),
    )


def same_code(a: str, b: str) -> bool:
    """Code equality ignoring trailing blanks (what a ``|`` block keeps anyway)."""
    return a.rstrip() == b.rstrip()


def request_identity(entry: Entry) -> bytes:
    """Canonical bytes of a recorded entry's request fields (for grouping by request)."""
    return canonical_json(entry.request or {})


def parse_timestamp(value: Any) -> _dt.datetime | None:
    """A ``recorded_at`` value as an aware UTC datetime (``None`` when absent or unreadable)."""
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)
