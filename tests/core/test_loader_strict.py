"""Strict loading: every field type-checked (issue 11.5), a damaged cassette is an error
naming the entry and line (13.6), YAML errors at the line of the problem (15.23)."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import warnings
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaycodegen import (
    CassetteError,
    CassetteMiss,
    MockCodeGenerator,
    PythonExecutionRequest,
    parse_cassette,
)
from tests.core.cassette_strategies import recorded_text

REQUEST = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")


def _recorded(count: int) -> str:
    return recorded_text(count)


def _error(text: str) -> CassetteError:
    with pytest.raises(CassetteError) as info:
        parse_cassette(text, "c.yaml")
    return info.value


# -- 11.5: every field is type-checked --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("scrubbed", "[1, {a: b}]", "scrubbed[0] must be a request field name"),
        ("scrubbed", "[user_query, nope]", "'nope' is not a request field"),
        ("scrubbed", "user_query", "scrubbed must be a list"),
        ("meta", "{recorded_at: 2026-01-01T00:00:00Z}", "is read as a date/time"),
        ("meta", "!!set {a, b}", "YAML set"),
        ("meta", "{blob: !!binary aGVsbG8=}", "binary data"),
        ("meta", "!!omap [{a: 1}]", "ordered map"),
        ("response", "[1]", "response must be a string"),
        ("derived_from", "{a: 1}", "derived_from must be a string"),
        ("origin", "robot", "unknown origin"),
        ("error_chain", "[{message: m, normalized: 5}]", "normalized must be a string"),
        ("error_chain", "[{message: [m]}]", "message must be a string"),
    ],
)
def test_every_field_is_type_checked_on_load(field: str, value: str, message: str) -> None:
    text = ("version: 1\nentries:\n  - id: e1\n    request: {user_query: q}\n"
            f"    code: x = 1\n    {field}: {value}\n")
    error = _error(text)
    assert message in error.reason, error
    assert error.line == 6


def test_a_date_in_a_request_field_is_refused_with_the_fix() -> None:
    error = _error("version: 1\nentries:\n  - id: e1\n    request:\n      user_query: q\n"
                   "      expected_results: {when: 2026-01-01}\n    code: x = 1\n")
    assert error.line == 6 and error.hint == "quote it to keep it a string"


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from([
    "meta", "scrubbed", "response", "description", "origin", "derived_from", "key", "id",
    "error_chain", "request.user_query", "request.expected_results",
    "request.capability_prompts", "request.retries", "request.capability_context_data",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_fields, _values)
def test_nothing_reaches_replay_as_a_type_error(field: str, value: Any) -> None:
    """Any value in any field: a CassetteError on load, or a cassette that replays (or
    misses) cleanly."""
    entry: dict[str, Any] = {"id": "e1", "request": {"user_query": "q", "task_objective": "o"},
                             "code": "x = 1\n"}
    if field.startswith("request."):
        entry["request"][field.split(".", 1)[1]] = value
    else:
        entry[field] = value
    text = yaml.safe_dump({"version": 1, "entries": [entry]}, sort_keys=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cassette = parse_cassette(text, "fuzz.yaml")
    except CassetteError:
        return
    generator = MockCodeGenerator(cassette=cassette)
    with contextlib.suppress(CassetteMiss):
        asyncio.run(generator.generate_code(REQUEST, ["NameError: x"]))
    with contextlib.suppress(CassetteMiss):
        asyncio.run(generator.generate_code(REQUEST, []))


# -- 13.6: integrity: a damaged cassette is an error, never a silent partial load --------------


def test_an_entry_without_its_code_names_the_entry_and_line() -> None:
    text = _recorded(3).replace("    code: |\n      x = 1\n", "")
    error = _error(text)
    assert "entry 'e2' has no code" in error.reason
    assert text.splitlines()[error.line - 1].strip() == "- id: e2"


def test_two_entries_lists_are_an_error() -> None:
    first, second = _recorded(2), _recorded(4)
    text = first + second[second.index("entries:"):].replace("id: e", "id: x")
    error = _error(text)
    assert "found the key 'entries' twice" in error.reason
    assert "two `entries:` lists" in (error.hint or "")
    assert text.splitlines()[error.line - 1] == "entries:"
    assert error.line > text[: text.index("entries:")].count("\n") + 1  # the second one


@pytest.mark.parametrize("where", ["middle", "end", "end without a newline"])
def test_conflict_markers_are_an_error_never_a_torn_tail(where: str) -> None:
    ours, theirs = _recorded(3), _recorded(4).replace("x = 3", "x = 33")
    tail_ours = ours[ours.index("  - id: e3"):]
    tail_theirs = theirs[theirs.index("  - id: e3"):]
    conflict = f"<<<<<<< HEAD\n{tail_ours}=======\n{tail_theirs}>>>>>>> feature\n"
    head = ours[:ours.index("  - id: e3")]
    if where == "middle":
        text = head + conflict + "  - id: e9\n    when: {}\n    code: x = 9\n"
    else:
        text = head + conflict
    if where == "end without a newline":
        text = text.rstrip("\n")
    error = _error(text)
    assert "unresolved git merge conflict" in error.reason
    assert text.splitlines()[error.line - 1] == "<<<<<<< HEAD"


def test_a_duplicated_id_with_different_keys_names_both_entries() -> None:
    text = _recorded(3).replace("id: e3", "id: e1")
    error = _error(text)
    assert "duplicate entry id 'e1' with a different key (also entry 1)" in error.reason
    assert text.splitlines()[error.line - 1].strip() == "- id: e1"
    assert error.line > 3


def test_a_recorded_last_entry_cut_short_is_still_a_torn_tail() -> None:
    text = _recorded(3)
    cut = text[: text.rindex("    key: ")]
    with pytest.warns(Warning, match="cut short"):
        cassette = parse_cassette(cut, "torn.yaml")
    assert [e.id for e in cassette.entries] == ["e1", "e2"] and cassette.torn_tail


def test_a_complete_last_entry_without_code_is_not_a_torn_tail() -> None:
    text = _recorded(3)
    start = text.rindex("    code: |")
    end = text.index("    key: ", start)
    error = _error(text[:start] + text[end:])
    assert "entry 'e3' has no code" in error.reason


# -- 15.23: YAML errors at the line of the problem ------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "noticed"),
    [
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code x = 1\n    response: y\n",
         5, 6),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code x = 1\n", 5, None),
        ("version: 1\nentries:\n  - id: e1\n    when: {attempt: 1\n    code: x = 1\n"
         "  - id: e2\n    when: {}\n    code: y\n", 4, 5),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: 'x = 1\n"
         "  - id: e2\n    when: {}\n    code: y\n", 5, None),
    ],
)
def test_yaml_errors_name_the_line_of_the_problem(text: str, line: int,
                                                  noticed: int | None) -> None:
    error = _error(text)
    assert error.line == line, error
    if noticed is not None:
        assert f"(noticed at line {noticed})" in error.reason


def test_pyyaml_reported_the_next_line_before() -> None:
    """The case of issue 15.23, as PyYAML reports it: the problem mark is a line late."""
    text = "version: 1\nentries:\n  - id: e1\n    when: {}\n    code x = 1\n    response: y\n"
    with pytest.raises(yaml.YAMLError) as info:
        yaml.load(text, Loader=yaml.CSafeLoader)
    assert info.value.problem_mark.line + 1 == 6  # type: ignore[attr-defined]
    assert _error(text).line == 5


def test_an_ordinary_multi_line_cassette_still_loads() -> None:
    text = textwrap.dedent("""\
        version: 1
        description: |
          ======= not a conflict marker: indented =======
        entries:
          - id: e1
            when: {}
            code: |
              print("=======")
        """)
    assert [e.id for e in parse_cassette(text, "ok.yaml").entries] == ["e1"]
