"""A corpus of malformed cassettes (tests/data/malformed/): every command that reads one
exits 2 with ONE line naming file and line, and leaves the file byte for byte as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import DATA, Invoke, sha256, stderr_lines

CORPUS = DATA / "malformed"

# file -> the line the error must name
EXPECTED_LINE: dict[str, int] = {
    "attempt_not_a_number.yaml": 5,
    "attempt_zero.yaml": 5,
    "bad_key.yaml": 8,
    "chain_item_without_message.yaml": 7,
    "code_not_string.yaml": 5,
    "deeply_nested.yaml": 6,
    "description_not_string.yaml": 2,
    "duplicate_ids.yaml": 6,
    "empty.yaml": 1,
    "entry_not_mapping.yaml": 6,
    "error_contains_empty.yaml": 5,
    "match_on_unknown_field.yaml": 2,
    "meta_not_mapping.yaml": 6,
    "missing_code.yaml": 3,
    "missing_id.yaml": 3,
    "missing_version.yaml": 1,
    "neither_request_nor_when.yaml": 3,
    "non_utf8.yaml": 2,
    "only_a_comment.yaml": 1,
    "repeat_last_not_bool.yaml": 2,
    "request_and_when.yaml": 3,
    "request_field_wrong_type.yaml": 5,
    "top_level_list.yaml": 1,
    "top_level_scalar.yaml": 1,
    "unknown_entry_field.yaml": 5,
    "unknown_request_field.yaml": 6,
    "unknown_version.yaml": 1,
    "unsafe_tag_os_system.yaml": 5,
    "unsafe_tag_python_name.yaml": 2,
    "version_as_string.yaml": 1,
    "yaml_bad_indentation.yaml": 4,
    "yaml_tab_indentation.yaml": 3,
    "yaml_two_documents.yaml": 3,
    "yaml_unclosed_flow.yaml": 1,
    "yaml_unclosed_quote.yaml": 2,
    "entries_is_mapping.yaml": 2,  # errors name the line of the field (its key)
    "unknown_top_level_field.yaml": 2,  # an unwanted field: the key's line
    "error_chain_on_pattern.yaml": 5,
    "control_character.yaml": 5,
    "duplicate_field.yaml": 7,
    "expected_results_wrong_type.yaml": 7,
    # bounded, strict and integrity checks of the loader (issues 11, 13, 15):
    "alias_bomb.yaml": 7,  # the alias whose expansion passes the budget
    "alias_bomb_in_meta.yaml": 11,
    "alias_bomb_in_expected_results.yaml": 11,
    "alias_bomb_in_error_chain.yaml": 15,
    "self_referencing_alias.yaml": 7,
    "mixed_key_types.yaml": 6,
    "meta_holds_a_date.yaml": 8,
    "scrubbed_not_field_names.yaml": 6,
    "merge_conflict_markers.yaml": 5,
    "two_entries_lists.yaml": 6,
    "duplicate_id_different_key.yaml": 9,
    "entry_without_code_in_the_middle.yaml": 6,
    "yaml_key_without_colon.yaml": 5,  # the key's line, not the next one
    "yaml_flow_left_open.yaml": 4,  # where the `{` is left open
}

# command arguments, with FILE for the malformed cassette
COMMANDS: dict[str, list[str]] = {
    "show": ["show", "FILE"],
    "show-json": ["show", "--json", "FILE", "e1"],
    "lint": ["lint", "FILE"],
    "lint-fix": ["lint", "--fix", "FILE"],
    "rehash": ["rehash", "FILE"],
    "scrub": ["scrub", "FILE"],
    "craft": ["craft", "FILE", "--entry", "e1", "--inject", "runtime_error"],
    "edit": ["edit", "FILE", "e1", "--code", "-"],
    "run": ["run", "--cassette", "FILE"],
    "diff": ["diff", "FILE", "FILE"],
}


def _case(name: str, command: str) -> object:
    return pytest.param(name, command, id=f"{name}-{command}")


def test_the_corpus_is_complete() -> None:
    on_disk = sorted(p.name for p in CORPUS.iterdir())
    assert on_disk == sorted(EXPECTED_LINE)
    assert len(on_disk) >= 20


@pytest.mark.parametrize(
    ("name", "command"),
    [_case(name, command) for name in sorted(EXPECTED_LINE) for command in COMMANDS],
)
def test_one_line_naming_file_and_line_and_the_file_is_unchanged(
    invoke: Invoke, isolated: Path, name: str, command: str
) -> None:
    path = isolated / name
    shutil.copyfile(CORPUS / name, path)
    before = sha256(path)
    args = [str(path) if arg == "FILE" else arg for arg in COMMANDS[command]]
    result = invoke(*args, input="results = {'value': 1}\n")
    assert not (isolated / "pwned_marker").exists()  # no YAML tag was ever executed
    assert sha256(path) == before
    assert sorted(p.name for p in isolated.iterdir()) == [name]  # no lock file, no temp
    assert result.exit_code == 2, result.output
    lines = stderr_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}:{EXPECTED_LINE[name]}: "), lines[0]
    assert "Traceback" not in result.output
