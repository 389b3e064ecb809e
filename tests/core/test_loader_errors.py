"""Bad cassettes: one CassetteError naming file and line, never a library traceback."""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaycodegen import CassetteError, load_cassette, parse_cassette

CASES = {
    "malformed_yaml": ("version: 1\nentries:\n  - id: a\n    code: [unclosed\n", 4, "invalid YAML"),
    "python_tag": (
        "version: 1\nentries: !!python/object/apply:os.system ['echo hi']\n",
        2,
        "refused YAML tag",
    ),
    "missing_version": ("entries: []\n", 1, "missing version"),
    "unknown_version": ("version: 7\nentries: []\n", 1, "unsupported cassette version 7"),
    "missing_code": ("version: 1\nentries:\n  - id: a\n    when: {}\n", 3, "has no code"),
    "code_not_string": (
        "version: 1\nentries:\n  - id: a\n    when: {}\n    code: [1, 2]\n",
        5,
        "code must be a string",
    ),
    "duplicate_ids": (
        "version: 1\nentries:\n  - id: a\n    when: {}\n    code: x\n"
        "  - id: a\n    when: {}\n    code: y\n",
        6,
        "duplicate entry id",
    ),
    "unknown_field": (
        "version: 1\nentries:\n  - id: a\n    when: {}\n    cod: x\n    code: y\n",
        5,
        "unknown field 'cod'",
    ),
    "bad_request_field": (
        "version: 1\nentries:\n  - id: a\n    request: {query: x}\n    code: y\n",
        4,
        "unknown request field 'query'",
    ),
    "request_wrong_type": (
        "version: 1\nentries:\n  - id: a\n    request:\n      user_query: 42\n    code: y\n",
        5,
        "must be a string",
    ),
    "both_request_and_when": (
        "version: 1\nentries:\n  - id: a\n    request: {}\n    when: {}\n    code: y\n",
        3,
        "both request and when",
    ),
    "bad_attempt": (
        "version: 1\nentries:\n  - id: a\n    when: {attempt: zero}\n    code: y\n",
        4,
        "whole number",
    ),
    "bad_key": (
        "version: 1\nentries:\n  - id: a\n    request: {user_query: q}\n    code: y\n"
        "    key: nothex\n",
        6,
        "64 lowercase hex",
    ),
    "top_level_list": ("- 1\n- 2\n", 1, "YAML mapping"),
    "entries_not_list": ("version: 1\nentries: {a: 1}\n", 2, "entries must be a list"),
    "key_given_twice": ("version: 1\nentries:\n  - id: a\n    when: {}\n    code: |\n"
                        "      x = 1\n    code: |\n      y = 2\n", 7, "found the key 'code' twice"),
    "expected_results_not_mapping": ("version: 1\nentries:\n  - id: a\n    request:\n"
                                     "      expected_results: 5\n    code: y\n", 5,
                                     "must be a mapping"),
    "prompts_not_strings": ("version: 1\nentries:\n  - id: a\n    request:\n"
                            "      capability_prompts: [1]\n    code: y\n", 5,
                            "a list of strings"),
    "control_character": ("version: 1\ndescription: ok\nentries:\n  - id: a\x00\n", 4,
                          "invalid YAML"),
    "version_as_string": ("version: '1'\nentries: []\n", 1, "must be the number 1"),
    "misplaced_block_field": ("version: 1\nentires:\n  - id: a\n", 2, "unknown field 'entires'"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_cassette_names_file_and_line(name: str, tmp_path: Path) -> None:
    text, line, message = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(CassetteError) as info:
        load_cassette(path)
    rendered = str(info.value)
    assert rendered.startswith(f"{path}:{line}: "), rendered
    assert message in rendered
    assert "\n" not in rendered
    assert info.value.line == line
    assert path.read_bytes() == before


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="no such cassette file"):
        load_cassette(tmp_path / "nope.yaml")
    with pytest.raises(CassetteError, match="is a directory"):
        load_cassette(tmp_path)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\ndescription: caf\xe9\n")
    with pytest.raises(CassetteError, match=r":2: not UTF-8"):
        load_cassette(path)


def test_the_fix_is_part_of_the_message(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("entries: []\n")
    with pytest.raises(CassetteError, match="fix: add `version: 1`"):
        load_cassette(path)


def test_unsafe_tags_never_execute(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        version: 1
        description: !!python/object/apply:os.system ["touch {marker}"]
        entries: []
        """)
    )
    with pytest.raises(CassetteError, match="refused YAML tag"):
        load_cassette(path)
    assert not marker.exists()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_cassette_or_a_cassette_error(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    with contextlib.suppress(CassetteError):
        parse_cassette(text, "fuzz.yaml")


_yaml_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_yaml_docs = st.recursive(
    _yaml_scalars,
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "entries",
                    "id",
                    "code",
                    "when",
                    "request",
                    "error_chain",
                    "attempt",
                    "error_contains",
                    "user_query",
                    "key",
                    "meta",
                    "x",
                ]
            ),
            c,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_yaml_docs)
def test_arbitrary_yaml_structures_give_a_cassette_or_a_cassette_error(doc: object) -> None:
    import yaml

    text = yaml.safe_dump({"version": 1, "entries": [doc]} if isinstance(doc, dict) else doc)
    with contextlib.suppress(CassetteError):
        parse_cassette(text, "fuzz.yaml")


def test_a_recording_cut_at_any_byte_never_yields_a_truncated_entry() -> None:
    """A killed writer can stop anywhere inside the last entry: the loader either keeps the
    whole entry or drops it with a warning; it never serves cut code, never raises."""
    import warnings

    from replaycodegen import PythonExecutionRequest
    from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
    from replaycodegen.cassette.model import Cassette, entry_from_pair
    from replaycodegen.cassette.writing.serialize import dump_cassette

    request = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")
    cassette = Cassette()
    for i in range(3):
        cassette.add(entry_from_pair(
            entry_id=f"e{i + 1}", request=request.model_copy(update={"user_query": f"q{i}"}),
            error_chain=["NameError: x"], code="x = 1\ny = 2\nresults = {}\n",
            match_on=DEFAULT_MATCH_ON, response="Sure:\n```python\nx = 1\n```",
            meta={"recorded_at": "2026-01-01T00:00:00Z", "model": "m"}))
    text = dump_cassette(cassette)
    start = text.rindex("  - id: e3")
    for cut in range(start, len(text) - 1):  # at len - 1 only the final newline is missing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = parse_cassette(text[:cut], "cut.yaml")
        assert [e.id for e in loaded.entries] == ["e1", "e2"], cut
        assert all(e.code == "x = 1\ny = 2\nresults = {}\n" for e in loaded.entries)
    assert [e.id for e in parse_cassette(text, "whole.yaml").entries] == ["e1", "e2", "e3"]
