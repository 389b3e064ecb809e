"""Cassette format v1: recorded and pattern entries, playback order, keys from the file."""

from __future__ import annotations

import hashlib
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

from replaycodegen import (
    CassetteMiss,
    CassetteWarning,
    ExecutionError,
    MockCodeGenerator,
    PythonExecutionRequest,
    fingerprint,
    load_cassette,
)
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.serialize import dump_cassette

REQUEST = PythonExecutionRequest(
    user_query="Average beam current",
    task_objective="Compute the mean",
    execution_folder_name="anything",
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cassette.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _recorded(codes: list[str], chain: list[object] | None = None) -> Cassette:
    cassette = Cassette(path="mem")
    for i, code in enumerate(codes):
        cassette.add(
            entry_from_pair(
                entry_id=f"e{i + 1}",
                request=REQUEST,
                error_chain=chain or [],
                code=code,
                match_on=DEFAULT_MATCH_ON,
            )
        )
    return cassette


def test_dump_writes_code_as_literal_blocks_and_round_trips(tmp_path: Path) -> None:
    cassette = _recorded(["x = 1\nresults = {'x': x}\n", "results = {}"])
    text = dump_cassette(cassette)
    assert text.startswith("version: 1\n")
    assert "code: |\n" in text and "code: |-\n" in text
    assert "\\n" not in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    loaded = load_cassette(path)
    assert [e.code for e in loaded.entries] == [e.code for e in cassette.entries]
    assert [e.key for e in loaded.entries] == [fingerprint(REQUEST)] * 2


async def test_repeated_requests_play_in_order_then_last_repeats(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dump_cassette(_recorded(["first", "second"])))
    generator = MockCodeGenerator(cassette=path)
    got = [await generator.generate_code(REQUEST, []) for _ in range(4)]
    assert got == ["first", "second", "second", "second"]


async def test_repeat_last_false_misses_when_all_played(tmp_path: Path) -> None:
    cassette = _recorded(["only"])
    cassette.repeat_last = False
    path = tmp_path / "c.yaml"
    path.write_text(dump_cassette(cassette))
    generator = MockCodeGenerator(cassette=path)
    assert await generator.generate_code(REQUEST, []) == "only"
    with pytest.raises(CassetteMiss) as info:
        await generator.generate_code(REQUEST, [])
    assert info.value.reason == "all matches already played"
    assert "already played" in str(info.value)


async def test_hand_edit_of_request_changes_what_it_matches(tmp_path: Path) -> None:
    text = dump_cassette(_recorded(["code"]))
    edited = text.replace("Average beam current", "Peak beam current")
    path = tmp_path / "c.yaml"
    path.write_text(edited)
    with pytest.warns(CassetteWarning, match="disagrees with its request"):
        generator = MockCodeGenerator(cassette=path)
    with pytest.raises(CassetteMiss):
        await generator.generate_code(REQUEST, [])
    peak = REQUEST.model_copy(update={"user_query": "Peak beam current"})
    assert await generator.generate_code(peak, []) == "code"


def test_consistent_file_loads_without_warnings(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dump_cassette(_recorded(["a"])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_cassette(path)


async def test_pattern_entries_by_attempt_error_text_and_request(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        entries:
          - id: exact
            request: {user_query: exact query, task_objective: t}
            code: |
              exact = True
          - id: scoped-first
            when: {request: {user_query: Average beam current}, attempt: 1}
            code: |
              scoped = 1
          - id: name-error
            when: {error_contains: [nameerror, ImportError]}
            code: |
              fixed_import = True
          - id: third
            when: {attempt: 3}
            code: |
              third = True
          - id: fallback
            when: {}
            code: |
              fallback = True
        """,
    )
    generator = MockCodeGenerator(cassette=path)
    exact = PythonExecutionRequest(
        user_query="exact query", task_objective="t", execution_folder_name="f"
    )
    assert await generator.generate_code(exact, []) == "exact = True\n"
    assert await generator.generate_code(REQUEST, []) == "scoped = 1\n"
    other = REQUEST.model_copy(update={"user_query": "something else"})
    assert await generator.generate_code(other, []) == "fallback = True\n"
    name_error = ExecutionError("NameError", "name 'np' is not defined", stage="execution")
    assert await generator.generate_code(REQUEST, [name_error]) == "fixed_import = True\n"
    assert await generator.generate_code(REQUEST, ["ValueError: a", "ValueError: b"]) == (
        "third = True\n"
    )
    assert generator.get_generation_metadata()["entry_id"] == "third"


def test_error_chain_in_file_keeps_original_next_to_normalised(tmp_path: Path) -> None:
    error = ExecutionError("FileNotFoundError", "no file /tmp/abc123/data.csv", stage="execution")
    text = dump_cassette(_recorded(["c"], [error]))
    data = yaml.safe_load(text)
    item = data["entries"][0]["error_chain"][0]
    assert item == {
        "type": "FileNotFoundError",
        "stage": "execution",
        "message": "no file /tmp/abc123/data.csv",
        "normalized": "no file <TMP>",
    }


async def test_recorded_chain_replays_for_a_different_temp_path(tmp_path: Path) -> None:
    recorded = ExecutionError("E", "failed in /tmp/run-aaaa/main.py", stage="execution")
    path = tmp_path / "c.yaml"
    path.write_text(dump_cassette(_recorded(["fix"], [recorded])))
    generator = MockCodeGenerator(cassette=path)
    now = ExecutionError("E", "failed in /tmp/run-bbbb/main.py", stage="execution")
    assert await generator.generate_code(REQUEST, [now]) == "fix"


def test_loading_never_modifies_the_file(tmp_path: Path) -> None:
    text = dump_cassette(_recorded(["a", "b"])).replace("Average", "Mean")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_cassette(path)
        MockCodeGenerator(cassette=path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert path.stat().st_mtime_ns == mtime


def test_match_on_in_the_file_is_honoured(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        version: 1
        match_on: [user_query]
        entries:
          - id: e1
            request: {user_query: Average beam current}
            code: |
              ok = 1
        """,
    )
    cassette = load_cassette(path)
    assert cassette.match_on == ("user_query",)
    other_objective = REQUEST.model_copy(update={"task_objective": "anything"})
    assert cassette.select(other_objective, []) is not None


def test_shipped_behaviors_are_valid_cassettes() -> None:
    from replaycodegen.cassette.behaviors import BEHAVIORS, behavior_path

    for name in BEHAVIORS:
        cassette = load_cassette(behavior_path(name))
        assert cassette.description and "hand-authored" in cassette.description
        assert all(entry.is_pattern for entry in cassette.entries)


def test_the_documented_example_is_a_valid_cassette() -> None:
    import re

    from replaycodegen import parse_cassette

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cassette-format.md").read_text()
    example = re.search(r"```yaml\n(.*?\n)```\n", doc, re.S)
    assert example is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keys agree with their requests
        cassette = parse_cassette(example.group(1), "docs/cassette-format.md")
    assert [e.is_pattern for e in cassette.entries] == [False, False, True, True, True]


def test_origin_and_derived_from_are_read_and_written_back() -> None:
    from replaycodegen.cassette.loading.loader import parse_cassette
    from replaycodegen.cassette.writing.serialize import dump_cassette

    text = (
        "version: 1\nentries:\n"
        "  - id: e1\n    origin: crafted\n    derived_from: e0\n    when: {attempt: 1}\n"
        "    code: |\n      results = {}\n"
        "  - id: e2\n    when: {}\n    code: |\n      results = {}\n"
    )
    cassette = parse_cassette(text, "c.yaml")
    first, second = cassette.entries
    assert (first.origin, first.derived_from) == ("crafted", "e0")
    assert first.effective_origin == "crafted"
    assert (second.origin, second.effective_origin) == (None, "hand")
    again = parse_cassette(dump_cassette(cassette), "c.yaml")
    assert again.entries[0].origin == "crafted" and again.entries[0].derived_from == "e0"


def test_an_unknown_origin_is_a_cassette_error_naming_the_line() -> None:
    import pytest

    from replaycodegen.cassette.loading.loader import parse_cassette
    from replaycodegen.errors import CassetteError

    text = "version: 1\nentries:\n  - id: e1\n    origin: robot\n    when: {}\n    code: x\n"
    with pytest.raises(CassetteError) as info:
        parse_cassette(text, "c.yaml")
    assert info.value.line == 4 and "recorded, crafted, hand" in str(info.value)
