"""Operations on whole cassettes for the maintenance tools: find, summarise, rehash, prune,
diff and scrub. Pure functions over ``Cassette``/``Entry`` (reading files at most); every
write is left to the caller, who goes through ``CassetteStore``."""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.keys import canonical_json
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.errors import CassetteError

CASSETTE_SUFFIXES = (".yaml", ".yml")
_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox"})
REPORT_VERSION = 1


# -- finding entries and their lines ------------------------------------------------------


def find_entry(cassette: Cassette, entry_id: str) -> tuple[int, Entry]:
    """The index and entry with this id; a missing id is a ``CassetteError`` listing the ids."""
    for index, entry in enumerate(cassette.entries):
        if entry.id == entry_id:
            return index, entry
    ids = [e.id for e in cassette.entries]
    shown = ", ".join(ids[:12]) + (f", ... ({len(ids)} in all)" if len(ids) > 12 else "")
    raise CassetteError(
        f"no entry with id {entry_id!r}",
        path=cassette.path,
        hint=f"use one of: {shown}" if ids else "the cassette has no entries",
    )


def entry_kind(entry: Entry) -> str:
    """``"recorded"`` (keyed by its request) or ``"hand-authored"`` (a ``when`` pattern)."""
    return "hand-authored" if entry.is_pattern else "recorded"


def entry_attempt(entry: Entry) -> int | None:
    """The attempt number an entry answers: chain length + 1, or its ``when.attempt``."""
    if entry.when is not None:
        return entry.when.attempt
    return len(entry.error_chain) + 1


def entry_request_fields(entry: Entry) -> dict[str, Any] | None:
    """The request fields an entry answers: its recorded request, or ``when.request``."""
    if entry.request is not None:
        return dict(entry.request)
    if entry.when is not None and entry.when.request is not None:
        return dict(entry.when.request)
    return None


def example_request_fields(cassette: Cassette, entry_id: str | None = None) -> dict[str, Any]:
    """Request fields to replay: those of ``entry_id``, else of the first entry answering
    a first attempt, else of the first entry with any request (``{}`` when none has one)."""
    if entry_id is not None:
        fields = entry_request_fields(find_entry(cassette, entry_id)[1])
        if fields is None:
            raise CassetteError(
                f"entry {entry_id!r} matches any request, so it names none",
                path=cassette.path, hint="give --query and --objective",
            )
        return fields
    candidates = [e for e in cassette.entries if entry_request_fields(e) is not None]
    first = [e for e in candidates if entry_attempt(e) in (1, None)]
    chosen = first or candidates
    return (entry_request_fields(chosen[0]) or {}) if chosen else {}


class EntryLocator:
    """Line numbers of entries and their fields, from one parse of the file's text."""

    def __init__(self, text: str) -> None:
        try:
            root = yaml.compose(text, Loader=yamlio.SafeLoader)
        except (yaml.YAMLError, RecursionError, ValueError):
            root = None
        self._entries: list[yaml.Node] = []
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if getattr(key, "value", None) == "entries" and isinstance(
                    value, yaml.SequenceNode
                ):
                    self._entries = list(value.value)

    def line(self, index: int, name: str | None = None) -> int | None:
        """1-based line of entry ``index`` (or of its field ``name``), ``None`` if unknown."""
        if not 0 <= index < len(self._entries):
            return None
        node = self._entries[index]
        if name is None:
            return int(node.start_mark.line) + 1
        if isinstance(node, yaml.MappingNode):
            for key, _value in node.value:
                if getattr(key, "value", None) == name:
                    return int(key.start_mark.line) + 1
        return None

    def code_line(self, index: int, code_lineno: int) -> int | None:
        """The file line holding line ``code_lineno`` of entry ``index``'s ``|`` code block."""
        if not 0 <= index < len(self._entries):
            return None
        node = self._entries[index]
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == "code":
                    start = int(value.start_mark.line) + 1
                    block = getattr(value, "style", None) in ("|", ">")
                    return start + code_lineno if block else start
        return None


# -- summaries (ls) -------------------------------------------------------------------------


def find_cassettes(directory: str | os.PathLike[str]) -> list[Path]:
    """``*.yaml`` / ``*.yml`` files under ``directory`` (recursively, sorted), skipping
    hidden folders and virtual environments."""
    root = Path(directory)
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        found.extend(
            Path(current) / name for name in sorted(files) if name.endswith(CASSETTE_SUFFIXES)
        )
    return found


@dataclass(frozen=True)
class CassetteSummary:
    """What ``replaycodegen ls`` shows about one file; ``error`` is set when it is invalid."""

    path: str
    size_bytes: int
    modified: _dt.datetime
    entries: int = 0
    recorded: int = 0
    hand_authored: int = 0
    models: tuple[str, ...] = ()
    newest_recording: _dt.datetime | None = None
    description: str | None = None
    error: str | None = None

    @property
    def as_of(self) -> _dt.datetime:
        """When the content dates from: the newest recording, else the file's mtime."""
        return self.newest_recording or self.modified

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "entries": self.entries,
            "recorded": self.recorded,
            "hand_authored": self.hand_authored,
            "models": list(self.models),
            "newest_recording": _iso(self.newest_recording),
            "modified": _iso(self.modified),
            "size_bytes": self.size_bytes,
            "description": self.description,
            "error": self.error,
        }


def _iso(moment: _dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


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


def summarize(path: str | os.PathLike[str], cassette: Cassette | None, error: str | None = None
              ) -> CassetteSummary:
    """The summary of a loaded cassette (or of a file that failed to load, with ``error``)."""
    stat = Path(path).stat()
    modified = _dt.datetime.fromtimestamp(stat.st_mtime, _dt.UTC)
    if cassette is None:
        return CassetteSummary(str(path), stat.st_size, modified, error=error)
    models = sorted({str(e.meta["model"]) for e in cassette.entries if e.meta.get("model")})
    stamps = [parse_timestamp(e.meta.get("recorded_at")) for e in cassette.entries]
    known = [s for s in stamps if s is not None]
    recorded = sum(1 for e in cassette.entries if not e.is_pattern)
    return CassetteSummary(
        str(path),
        stat.st_size,
        modified,
        entries=len(cassette.entries),
        recorded=recorded,
        hand_authored=len(cassette.entries) - recorded,
        models=tuple(models),
        newest_recording=max(known) if known else None,
        description=cassette.description,
    )


def total_tokens(entries: Sequence[Entry]) -> int:
    """The sum of ``meta.usage.total_tokens`` over entries that recorded it."""
    total = 0
    for entry in entries:
        usage = entry.meta.get("usage")
        if isinstance(usage, Mapping) and isinstance(usage.get("total_tokens"), int):
            total += usage["total_tokens"]
    return total


# -- rehash -------------------------------------------------------------------------------


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


# -- prune --------------------------------------------------------------------------------


def read_codegen_report(path: str | os.PathLike[str]) -> dict[Path, list[str]]:
    """The unused entry ids per cassette (resolved path) of a ``--codegen-report`` JSON file.

    Relative cassette paths are resolved against the current directory, or failing that
    against the report's folder. A malformed report is a ``CassetteError``.
    """
    report_path = Path(path)
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError("no such report file", path=str(report_path),
                            hint="write it with `pytest --codegen-report=PATH`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read the report: {exc}", path=str(report_path)) from None
    except json.JSONDecodeError as exc:
        raise CassetteError(f"the report is not JSON: {exc.msg}", path=str(report_path),
                            line=exc.lineno, hint="regenerate it with pytest --codegen-report"
                            ) from None
    if not isinstance(data, dict) or data.get("version") != REPORT_VERSION:
        raise CassetteError(
            f"not a replaycodegen report of version {REPORT_VERSION}",
            path=str(report_path),
            hint='expected {"version": 1, "cassettes": {...}} from pytest --codegen-report',
        )
    cassettes = data.get("cassettes")
    if not isinstance(cassettes, dict):
        raise CassetteError("the report's `cassettes` must be an object", path=str(report_path),
                            field="cassettes")
    out: dict[Path, list[str]] = {}
    for name, record in cassettes.items():
        unused = record.get("unused") if isinstance(record, dict) else None
        if not isinstance(unused, list) or not all(isinstance(i, str) for i in unused):
            raise CassetteError(
                "`unused` must be a list of entry ids", path=str(report_path),
                field=f"cassettes[{name!r}].unused",
            )
        out.setdefault(_resolve_report_path(name, report_path), []).extend(unused)
    return out


def _resolve_report_path(name: str, report_path: Path) -> Path:
    candidate = Path(name)
    if candidate.is_absolute() or candidate.exists():
        return candidate.resolve()
    beside = report_path.parent / candidate
    return (beside if beside.exists() else candidate).resolve()


def prune_entries(cassette: Cassette, entry_ids: Sequence[str]) -> tuple[list[Entry], list[str]]:
    """Remove the entries with these ids (in place): ``(removed, ids not in the cassette)``."""
    wanted = set(entry_ids)
    removed = [e for e in cassette.entries if e.id in wanted]
    present = {e.id for e in removed}
    missing = [i for i in dict.fromkeys(entry_ids) if i not in present]
    if removed:
        cassette.replace_entries([e for e in cassette.entries if e.id not in wanted])
    return removed, missing


# -- diff ---------------------------------------------------------------------------------


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


# -- secrets ------------------------------------------------------------------------------


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k, f"{where}.{k}")
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def entry_strings(entry: Entry) -> Iterator[tuple[str, str]]:
    """Every string an entry stores, with the field it sits in (``request.user_query``...)."""
    yield from _strings(entry.id, "id")
    yield from _strings(entry.description, "description")
    if entry.request is not None:
        yield from _strings(entry.request, "request")
    for i, error in enumerate(entry.error_chain):
        yield from _strings([error.type, error.stage, error.message], f"error_chain[{i}]")
    if entry.when is not None:
        yield from _strings(entry.when.to_data(), "when")
    yield from _strings(entry.code, "code")
    yield from _strings(entry.response, "response")
    yield from _strings(entry.meta, "meta")


def secret_fields(entry: Entry, scrubber: Scrubber) -> list[str]:
    """The fields of ``entry`` holding something ``scrubber`` would replace (never the value)."""
    fields = [where for where, text in entry_strings(entry) if scrubber.finds_secret(text)]
    return list(dict.fromkeys(fields))


def find_secrets(cassette: Cassette, scrubber: Scrubber) -> dict[str, list[str]]:
    """Entry id -> fields holding a secret (the cassette's description under ``""``)."""
    found: dict[str, list[str]] = {}
    if cassette.description and scrubber.finds_secret(cassette.description):
        found[""] = ["description"]
    for entry in cassette.entries:
        fields = secret_fields(entry, scrubber)
        if fields:
            found[entry.id] = fields
    return found


def find_secrets_in(value: Any, scrubber: Scrubber) -> bool:
    return any(scrubber.finds_secret(text) for _, text in _strings(value, ""))


def same_code(a: str, b: str) -> bool:
    """Code equality ignoring trailing blanks (what a ``|`` block keeps anyway)."""
    return a.rstrip() == b.rstrip()


def request_identity(entry: Entry) -> bytes:
    """Canonical bytes of a recorded entry's request fields (for grouping by request)."""
    return canonical_json(entry.request or {})
