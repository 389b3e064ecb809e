"""Which fields of a cassette hold something the scrubber would replace (``lint``, ``scrub``)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.scrub import Scrubber


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


def comment_secret_lines(text: str, scrubber: Scrubber) -> list[int]:
    """Lines (1-based) where a YAML comment holds a secret: the parsed fields never see a
    comment, the file does. Found as the secrets outside every YAML token (the scanner
    skips comments; a block of code is one token, so a ``#`` in code is its field's)."""
    starts = sorted(set(scrubber.secret_starts(text)))
    if not starts:
        return []
    spans: list[tuple[int, int]] = []
    try:
        # the pure-Python scanner: its marks are character offsets; run only on a file that
        # holds a secret somewhere, which the loader has already bounded in size
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index < token.end_mark.index:
                spans.append((token.start_mark.index, token.end_mark.index))
    except yaml.YAMLError:
        return []
    begins = [start for start, _ in spans]
    lines: list[int] = []
    for offset in starts:
        i = bisect.bisect_right(begins, offset) - 1
        if i >= 0 and offset < spans[i][1]:
            continue
        lines.append(text.count("\n", 0, offset) + 1)
    return sorted(set(lines))
