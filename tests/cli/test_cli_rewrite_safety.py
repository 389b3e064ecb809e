"""`edit` does not hold the lock while $EDITOR is open, applies the change to the file as it
is afterwards, and refuses when the same entry changed meanwhile (issue 11.3); `lint`
finds a pattern entry that an exact key always answers first (issue 15.20)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from replaycodegen import load_cassette

from .conftest import GOOD_CODE, Invoke, request, write_cassette

EDITOR = textwrap.dedent("""
    import os, sys
    from replaycodegen.cassette.model import Entry, Pattern
    from replaycodegen.cassette.writing.store import CassetteStore

    # Another process writes the cassette while the person edits: it must get the lock.
    store = CassetteStore(os.environ["EDIT_CASSETTE"], lock_timeout=10)
    with store.update() as edit:
        if os.environ["EDIT_MEANWHILE"] == "same":
            entry = edit.get("e1")
            entry.code = "changed_meanwhile = 1\\n"
            edit.touch("e1")
        else:
            edit.append(Entry(id="added", code="added = 1\\n", when=Pattern(attempt=4)))
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        handle.write("mine = 1\\n")
""")


@pytest.fixture
def editor(isolated: Path) -> Path:
    script = isolated / "editor.py"
    script.write_text(EDITOR)
    return script


def run_edit(invoke: Invoke, path: Path, editor: Path, meanwhile: str) -> object:
    return invoke("edit", str(path), "e1", env={
        "EDITOR": f"{sys.executable} {editor}", "EDIT_CASSETTE": str(path),
        "EDIT_MEANWHILE": meanwhile})


def test_edit_applies_the_change_to_the_file_as_it_is_after_the_editor(
    invoke: Invoke, isolated: Path, editor: Path
) -> None:
    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE),
                                                (request("q2"), [], GOOD_CODE)])
    result = run_edit(invoke, path, editor, "other")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    entries = {e.id: e for e in load_cassette(path).entries}
    assert entries["e1"].code == "mine = 1\n"
    assert entries["added"].code == "added = 1\n"  # the other writer's entry is kept


def test_edit_refuses_when_the_same_entry_changed_meanwhile(
    invoke: Invoke, isolated: Path, editor: Path
) -> None:
    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE)])
    result = run_edit(invoke, path, editor, "same")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    message = result.stderr  # type: ignore[attr-defined]
    assert "entry e1 changed in the file while you were editing" in message
    assert "nothing was written" in message and "your edit is kept in" in message
    kept = Path(message.split("your edit is kept in ")[1].split(")")[0])
    assert kept.read_text() == "mine = 1\n"
    assert load_cassette(path).entries[0].code == "changed_meanwhile = 1\n"


def test_lint_finds_a_pattern_that_a_recorded_key_always_answers_first(
    invoke: Invoke, isolated: Path
) -> None:
    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE)])
    path.write_text(path.read_text()
                    + "  - id: fail-first\n    when: {attempt: 1}\n    code: |\n"
                    + "      results = 1 / 0\n"
                    + "  - id: later\n    when: {attempt: 2}\n    code: |\n      results = {}\n")
    result = invoke("lint", str(path))
    assert result.exit_code == 1
    (finding,) = [line for line in result.stdout.splitlines() if "shadowed" in line]
    assert "entry 'fail-first' can never play: entry 'e1''s key answers first" in finding
    assert f"replaycodegen craft {path} --entry e1 --inject" in finding
    assert "later" not in result.stdout


def test_record_description_is_scrubbed_on_the_first_write(
    invoke: Invoke, isolated: Path
) -> None:
    from replaycodegen.testing import FakeOpenAIServer

    key = "sk-proj-" + "DescriptionKey0123456789abcdEFGH"
    with FakeOpenAIServer() as server:
        result = invoke("record", "--cassette", "new.yaml", "--base-url", server.base_url,
                        "--model", "fake-model", "--query", "q",
                        "--description", f"recorded with {key}",
                        env={"OPENAI_API_KEY": "dummy-key-for-the-cli-tests"})
    assert result.exit_code == 0, result.output
    assert key not in (isolated / "new.yaml").read_text()
    assert load_cassette(isolated / "new.yaml").description == "recorded with <SCRUBBED>"


COMMENT_KEYS = ("sk-proj-" + "HeaderComment0123456789abcdEF", "ghp_" + "a1B2" * 9,
                "sk-proj-" + "EntryComment0123456789abcdEFGH")


def _with_secret_comments(path: Path) -> str:
    header, entry, inside = COMMENT_KEYS
    text = path.read_text()
    text = text.replace("version: 1\n", f"version: 1  # {header}\n", 1)
    text = text.replace("match_on:\n", f"match_on:  # token {entry}\n", 1)
    text = text.replace("  - id: e1\n", f"  - id: e1\n    # {inside}\n", 1)
    path.write_text(text)
    return text


def test_lint_and_scrub_find_a_secret_in_any_comment_of_the_file(
    invoke: Invoke, isolated: Path
) -> None:
    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE),
                                                (request("q2"), [], GOOD_CODE)])
    text = _with_secret_comments(path)
    lines = [n for n, line in enumerate(text.splitlines(), 1)
             if any(key in line for key in COMMENT_KEYS)]
    assert len(lines) == 3

    linted = invoke("lint", str(path))
    assert linted.exit_code == 1
    assert [f"c.yaml:{n}: secret: a comment stores a secret" in linted.stdout
            for n in lines] == [True, True, True]

    scrubbed = invoke("scrub", str(path))
    assert scrubbed.exit_code == 0, scrubbed.output
    assert "scrubbed 3 comments" in scrubbed.stdout
    after = path.read_text()
    assert not any(key in after for key in COMMENT_KEYS)
    assert after.startswith("version: 1  # <SCRUBBED>\n")  # the comment stays, scrubbed
    assert [e.code for e in load_cassette(path).entries] == [GOOD_CODE, GOOD_CODE]
    assert invoke("lint", str(path)).exit_code == 0
    assert "no secrets found (untouched)" in invoke("scrub", str(path)).stdout


def test_lint_fix_scrubs_a_secret_in_a_header_comment(invoke: Invoke, isolated: Path) -> None:
    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE)])
    _with_secret_comments(path)
    invoke("lint", "--fix", str(path))
    assert not any(key in path.read_text() for key in COMMENT_KEYS)


def test_scrub_json_names_the_comment_lines_it_scrubbed(invoke: Invoke, isolated: Path) -> None:
    import json

    path = write_cassette(isolated / "c.yaml", [(request("q1"), [], GOOD_CODE)])
    text = _with_secret_comments(path)
    lines = [n for n, line in enumerate(text.splitlines(), 1)
             if any(key in line for key in COMMENT_KEYS)]
    data = json.loads(invoke("scrub", "--json", str(path)).stdout)
    (record,) = data["files"]
    assert record["comment_lines"] == lines and len(lines) == 3
    assert record["untouched"] is False
    assert not any(key in path.read_text() for key in COMMENT_KEYS)
