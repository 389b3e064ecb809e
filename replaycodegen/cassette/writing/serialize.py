"""Cassette <-> YAML text. One entry always renders the same way, whether it is appended
to a file or written with the whole cassette, so appends and full writes agree."""

from __future__ import annotations

from typing import Any

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.model import CASSETTE_VERSION, Cassette, Entry

ENTRY_INDENT = "  "


def clean_code(code: str) -> str:
    """Strip trailing blanks at line ends so the code can always be a ``|`` literal block."""
    if " \n" not in code and "\t\n" not in code and not code.endswith((" ", "\t")):
        return code
    return "\n".join(line.rstrip(" \t") for line in code.split("\n"))


def entry_to_data(entry: Entry) -> dict[str, Any]:
    data: dict[str, Any] = {"id": entry.id}
    if entry.meta and entry.request is not None:
        # First, so that an entry cut short by a killed writer is recognisable (see loader).
        data["meta"] = dict(entry.meta)
    if entry.origin is not None:
        # After meta: an entry cut short right after it is still recognised as torn.
        data["origin"] = entry.origin
    if entry.derived_from is not None:
        data["derived_from"] = entry.derived_from
    if entry.description:
        data["description"] = entry.description
    if entry.when is not None:
        data["when"] = entry.when.to_data()
    if entry.request is not None:
        data["request"] = dict(entry.request)
        chain = []
        for err in entry.error_chain:
            item: dict[str, Any] = {"type": err.type, "stage": err.stage, "message": err.message}
            normalized = err.normalized
            if normalized != err.message:
                item["normalized"] = normalized
            chain.append(item)
        data["error_chain"] = chain
    data["code"] = yamlio.LiteralStr(clean_code(entry.code))
    if entry.response is not None and entry.response.strip() != entry.code.strip():
        data["response"] = entry.response
    if entry.meta and entry.request is None:
        data["meta"] = dict(entry.meta)
    if entry.scrubbed:
        data["scrubbed"] = list(entry.scrubbed)
    if entry.request is not None and entry.key is not None:
        # Written last: a recorded entry cut short by a killed writer has no key.
        data["key"] = entry.key
    return data


def header_to_data(cassette: Cassette) -> dict[str, Any]:
    data: dict[str, Any] = {"version": CASSETTE_VERSION}
    if cassette.description:
        data["description"] = cassette.description
    data["match_on"] = list(cassette.match_on or DEFAULT_MATCH_ON)
    if not cassette.repeat_last:
        data["repeat_last"] = False
    data.update(cassette.extra)
    return data


def dump_entry(entry: Entry, indent: str = ENTRY_INDENT) -> str:
    """One entry as an item of the ``entries:`` block sequence, ready to append."""
    text = yamlio.dump([entry_to_data(entry)])
    if text.endswith("\n...\n"):  # the document end PyYAML writes after a `|+` block
        text = text[: -len("...\n")]
    return "".join(
        (indent + line if line.strip() else line) for line in text.splitlines(keepends=True)
    )


def dump_cassette(cassette: Cassette) -> str:
    """The whole cassette as YAML text: header, then ``entries:`` last (appendable)."""
    parts = [yamlio.dump(header_to_data(cassette))]
    if cassette.entries:
        parts.append("entries:\n")
        parts.extend(dump_entry(entry) for entry in cassette.entries)
    else:
        parts.append("entries: []\n")
    return "".join(parts)
