"""The text splicer behind every rewrite, on generated cassettes: whatever the comments,
blank lines and block styles around them, a rewrite yields exactly the entries asked for,
and every entry it did not touch keeps its text to the character."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette
from replaycodegen.cassette.model import Entry, entry_from_pair
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.writing.layout import find_layout
from replaycodegen.cassette.writing.rewrite import CassetteEdit
from replaycodegen.cassette.writing.serialize import dump_entry
from replaycodegen.models import PythonExecutionRequest

GAPS = st.sampled_from(["", "\n", "  # note\n", "# at column 0\n", "\n  # a\n\n", "    # deep\n"])
CODES = st.sampled_from([
    "x = 1\n", "x = 1\n\n\n", "# comment first\nx = 2\n", "if x:\n    y = 1\n\n    z = 2\n",
    "x = 3", "  indented = 1\n",
])
SCRUBBER = Scrubber(use_environment=False)


def recorded(number: int, code: str) -> Entry:
    request = PythonExecutionRequest(user_query=f"q{number}", task_objective="o",
                                     execution_folder_name="f")
    return entry_from_pair(entry_id=f"e{number}", request=request, error_chain=[], code=code,
                           match_on=DEFAULT_MATCH_ON)


def pattern_text(number: int, style: int) -> str:
    if style == 0:
        return f"  - id: p{number}\n    when: {{attempt: {number % 3 + 1}}}   # flow\n" \
               f"    code: |\n      p = {number}\n"
    if style == 1:
        return f"  -\n    id: p{number}\n    when:\n      error_contains: [E{number}]\n" \
               f"    code: 'p = {number}'\n"
    if style == 2:
        return f"  - id: 'p{number}'\n    code: \"p = {number}\"\n    when: {{}}\n"
    return f"  - id: p{number}\n    when: {{attempt: 9}}\n    code: |+\n      p = {number}\n\n"


@st.composite
def cassettes(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """Cassette text and, per entry, (id, exact text of the entry)."""
    parts = ["# top\nversion: 1\n", draw(st.sampled_from(["", "description: d  # c\n"])),
             "entries:\n"]
    chunks: list[tuple[str, str]] = []
    for number in range(1, draw(st.integers(1, 7)) + 1):
        parts.append(draw(GAPS))
        if draw(st.booleans()):
            text = dump_entry(recorded(number, draw(CODES)))
            entry_id = f"e{number}"
        else:
            text = pattern_text(number, draw(st.integers(0, 3)))
            entry_id = f"p{number}"
        parts.append(text)
        chunks.append((entry_id, text))
    parts.append(draw(st.sampled_from(["", "# the end\n", "\n\n"])))
    return "".join(parts), chunks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cassettes(), st.data())
def test_rewrites_keep_untouched_entries_and_yield_what_was_asked(
    generated: tuple[str, list[tuple[str, str]]], data: st.DataObject
) -> None:
    text, chunks = generated
    cassette = parse_cassette(text, "gen.yaml")
    assert find_layout(text, [e.id for e in cassette.entries]) is not None
    edit = CassetteEdit(cassette, text)
    expected: list[tuple[str, str]] = []
    untouched: list[str] = []
    for (entry_id, chunk), entry in zip(chunks, list(cassette.entries), strict=True):
        action = data.draw(st.sampled_from(["keep", "replace", "remove", "touch", "insert"]))
        if action == "insert":
            new = Entry(id="", code=f"inserted_before_{entry_id} = 1\n", when=None,
                        request={"user_query": f"new {entry_id}"})
            edit.insert_before(entry_id, [new])
            expected.append((new.id, new.code))
        if action == "replace":
            fresh = Entry(id=entry_id, code=f"replaced_{entry_id} = 1\n", when=entry.when,
                          request=entry.request)
            edit.replace(fresh)
            expected.append((entry_id, fresh.code))
        elif action == "remove":
            edit.remove([entry_id])
        elif action == "touch":
            edit.touch(entry_id)
            expected.append((entry_id, entry.code))
        else:
            expected.append((entry_id, entry.code))
            untouched.append(chunk if chunk.endswith("\n") else chunk + "\n")
    if data.draw(st.booleans()):
        appended = edit.append(Entry(id="", code="appended = 1\n", request={"user_query": "a"}))
        expected.append((appended.id, appended.code))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CassetteWarning)  # the layout must be kept
        result = edit.render(SCRUBBER)
    result = text if result is None else result
    reloaded = parse_cassette(result, "gen.yaml")
    assert [(e.id, e.code) for e in reloaded.entries] == expected
    for chunk in untouched:
        assert chunk in result
    assert result.startswith("# top\nversion: 1\n")


def test_a_torn_last_entry_is_dropped_and_the_rest_kept() -> None:
    good = "version: 1\n# keep me\nentries:\n" + dump_entry(recorded(1, "x = 1\n"))
    torn = good + "  - id: e2\n    meta:\n      recorded_at: '2026-01-01T00:00:00Z'\n    req"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CassetteWarning)
        cassette = parse_cassette(torn, "torn.yaml")
    edit = CassetteEdit(cassette, torn)
    assert edit.render(SCRUBBER) == good


def test_an_unrecognised_layout_is_written_whole_with_a_warning() -> None:
    text = "version: 1\nentries: [{id: a, when: {}, code: x}]  # flow list\n"
    cassette = parse_cassette(text, "flow.yaml")
    edit = CassetteEdit(cassette, text)
    edit.touch("a")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CassetteWarning)
        result = edit.render(SCRUBBER)
    assert result is not None and "- id: a" in result
    assert any("comments were dropped" in str(w.message) for w in caught)
    assert [e.id for e in parse_cassette(result, "flow.yaml").entries] == ["a"]


def test_entries_inserted_together_get_distinct_ids() -> None:
    text = "version: 1\nentries:\n" + dump_entry(recorded(1, "x = 1\n"))
    edit = CassetteEdit(parse_cassette(text, "ids.yaml"), text)
    first, second = (Entry(id="", code=f"n = {n}\n", request={"user_query": f"n{n}"})
                     for n in (1, 2))
    edit.insert_before("e1", [first, second])
    result = edit.render(SCRUBBER)
    assert result is not None
    assert [e.id for e in parse_cassette(result, "ids.yaml").entries] == ["e2", "e3", "e1"]
