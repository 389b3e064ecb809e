"""Cassettes for the loader's tests: hypothesis strategies of files as replaycodegen writes
them and as people edit them (stale keys, a torn tail, comments, CRLF line ends, anchors),
a recorded cassette of N entries, and a snapshot of a loaded cassette that two loads can be
compared by."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from hypothesis import strategies as st

from replaycodegen import PythonExecutionRequest
from replaycodegen.cassette.model import Cassette, Entry, Pattern, entry_from_pair
from replaycodegen.cassette.writing.serialize import dump_cassette

_text = st.text(max_size=24)
_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_code = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
                 min_size=1, max_size=4).map(lambda lines: "\n".join(lines) + "\n")


@st.composite
def _entry(draw: st.DrawFn, number: int) -> Entry:
    if draw(st.integers(0, 4)) == 0:
        when = Pattern(
            attempt=draw(st.none() | st.integers(1, 4)),
            error_contains=draw(st.none() | st.lists(_text.filter(bool), min_size=1,
                                                     max_size=2).map(tuple)),
        )
        return Entry(id=f"p{number}", code=draw(_code), when=when,
                     description=draw(st.none() | _text))
    request = PythonExecutionRequest(
        user_query=draw(_text), task_objective=draw(_text), execution_folder_name="f",
        expected_results=draw(st.dictionaries(_text, _plain, max_size=3)),
        capability_prompts=draw(st.lists(_text, max_size=2)),
    )
    chain = draw(st.lists(_text.map(lambda m: f"NameError: {m}"), max_size=2))
    meta = draw(st.dictionaries(_text, _plain, max_size=3))
    meta["recorded_at"] = "2026-01-01T00:00:00Z"
    entry = entry_from_pair(
        entry_id=f"e{number}", request=request, error_chain=chain, code=draw(_code),
        match_on=Cassette().match_on, response=draw(st.none() | _text), meta=meta,
    )
    entry.origin = draw(st.sampled_from([None, "recorded", "crafted"]))
    return entry


@st.composite
def cassette_files(draw: st.DrawFn, max_entries: int = 6) -> bytes:
    """The bytes of a cassette file, sometimes edited by hand or cut short."""
    cassette = Cassette(description=draw(st.none() | _text))
    for number in range(1, draw(st.integers(0, max_entries)) + 1):
        cassette.add(draw(_entry(number)))
    text = dump_cassette(cassette)
    if draw(st.booleans()):  # a hand edit of the requests: their stored keys are stale
        text = text.replace("      user_query: ", "      user_query: edited ", 1)
    if draw(st.booleans()):
        text = re.sub(r"(?m)^(  - id: )", r"  # a comment between entries\n\1", text, count=2)
    if draw(st.booleans()) and "  - id: " in text:
        # An anchor in one entry used by the same entry: still the fast path.
        text = text.replace("    code: |", "    derived_from: &shared anchored\n    code: |", 1)
    if draw(st.integers(0, 3)) == 0 and "    key: " in text:
        text = text[: text.rindex("    key: ")]  # a recorder killed before the last key
    if draw(st.integers(0, 3)) == 0:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8")


REQUEST = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")


def recorded_text(count: int, *, code: str = "x = {i}\n", stale: bool = False) -> str:
    """A cassette of ``count`` recorded entries (``code`` formatted with ``i``); ``stale``:
    after a hand edit of every request, so that every stored key disagrees."""
    cassette = Cassette()
    for i in range(count):
        cassette.add(entry_from_pair(
            entry_id=f"e{i + 1}", request=REQUEST.model_copy(update={"user_query": f"q{i}"}),
            error_chain=[], code=code.format(i=i), match_on=cassette.match_on,
            meta={"recorded_at": "2026-01-01T00:00:00Z", "model": "m"}))
    text = dump_cassette(cassette)
    if stale:
        text = re.sub(r"user_query: (q\d+)", r"user_query: \1 (edited)", text)
    return text


def snapshot(cassette: Cassette) -> dict[str, Any]:
    """Everything a loaded cassette serves, as plain data."""
    return {
        "path": cassette.path,
        "match_on": cassette.match_on,
        "description": cassette.description,
        "repeat_last": cassette.repeat_last,
        "torn_tail": cassette.torn_tail,
        "entries": [dataclasses.asdict(entry) for entry in cassette.entries],
    }
