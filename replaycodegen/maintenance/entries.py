"""Finding entries in a cassette, what they answer, and their lines in the file."""

from __future__ import annotations

from typing import Any

import yaml

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.errors import CassetteError


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
