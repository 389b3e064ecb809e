"""Every rewrite changes only the entries it touches: comments, blank lines, key order and
flow styles elsewhere in the file stay byte for byte (issue 14.3)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from replaycodegen import load_cassette
from replaycodegen.cassette.behaviors import BEHAVIORS
from replaycodegen.generation import RecordingCodeGenerator

from .conftest import GOOD_CODE, Invoke, request, write_cassette

ROOT = Path(__file__).resolve().parents[2]
BEHAVIOR_DIR = ROOT / "cassettes" / "behaviors"
SECRET = "sk-" + "live0123456789abcdefGHIJKLmnop"  # built, so scanners see no key


def decorate(text: str) -> str:
    """Comments and blank lines a person would add: above the file, before each entry."""
    text = "# hand-maintained cassette: keep these notes\n" + text
    return re.sub(r"(?m)^(  - id: (\S+)\n)", r"\n  # ---- \2 ----\n\1", text)


def region(text: str, entry_id: str) -> tuple[int, int]:
    """Where entry ``entry_id`` sits: from its ``- id:`` line to the blank line before the
    next entry's comment (found from the decoration, not from the code under test)."""
    start = text.index(f"  - id: {entry_id}\n")
    following = text.find("\n\n  # ---- ", start)
    return start, len(text) if following < 0 else following + 1


def assert_only_changed(before: str, after: str, entry_id: str) -> None:
    start, end = region(before, entry_id)
    assert after.startswith(before[:start]), "bytes before the entry changed"
    assert after.endswith(before[end:]), "bytes after the entry changed"
    assert after != before


@pytest.fixture
def recorded(isolated: Path) -> Path:
    path = write_cassette(isolated / "beam.yaml", [
        (request("first"), [], GOOD_CODE),
        (request("second"), [], 'results = {"value": 2}\n'),
        (request("third"), [], 'results = {"value": 3}\n'),
    ], description="Recorded beam answers")
    text = decorate(path.read_text())
    # a hand-authored pattern with a flow-style `when`, and a comment inside an entry
    text += ("\n  # ---- hand ----\n  - id: hand\n    when: {attempt: 3}   # give up\n"
             "    code: |\n      results = {}\n")
    path.write_text(text)
    return path


def report_for(path: Path, *ids: str) -> Path:
    report = path.with_name("report.json")
    report.write_text(json.dumps({"version": 1, "cassettes": {str(path): {"unused": list(ids)}}}))
    return report


def plant(path: Path, entry_id: str) -> None:
    """Put a secret into an entry's code by hand (the store would scrub it)."""
    text = path.read_text()
    start, end = region(text, entry_id)
    chunk = re.sub(r"(code: \|\n)(\s+)", rf"\1\2token = '{SECRET}'\n\2", text[start:end], count=1)
    path.write_text(text[:start] + chunk + text[end:])


def make_stale(path: Path, entry_id: str) -> None:
    text = path.read_text()
    start, end = region(text, entry_id)
    path.write_text(text[:start] + text[start:end].replace("user_query: second",
                                                           "user_query: second, edited") +
                    text[end:])


@pytest.mark.parametrize("command", ["edit", "craft", "lint-fix", "rehash", "prune", "scrub",
                                     "record-all"])
def test_each_rewrite_changes_only_its_entry(
    invoke: Invoke, recorded: Path, command: str, tmp_path: Path
) -> None:
    path = recorded
    if command in ("lint-fix", "scrub"):
        plant(path, "e2")
    if command == "rehash":
        make_stale(path, "e2")
    before = path.read_text()
    if command == "record-all":
        recorder = RecordingCodeGenerator(_Fixed(), path, "all")
        asyncio.run(recorder.generate_code(request("second"), []))
        recorder.close()
    else:
        code = tmp_path / "new.py"
        code.write_text('results = {"value": 22}\n')
        args = {
            "edit": ["edit", str(path), "e2", "--code", str(code)],
            "craft": ["craft", str(path), "--entry", "e2", "--inject", "runtime_error"],
            "lint-fix": ["lint", "--fix", str(path)],
            "rehash": ["rehash", str(path)],
            "prune": ["prune", str(path), "--unused-from", str(report_for(path, "e2"))],
            "scrub": ["scrub", str(path)],
        }[command]
        result = invoke(*args)
        assert result.exit_code in (0, 1), result.output
    after = path.read_text()
    assert_only_changed(before, after, "e2")
    assert SECRET not in after
    cassette = load_cassette(path)
    ids = [e.id for e in cassette.entries]
    assert {"e1", "e3", "hand"} <= set(ids)
    if command == "prune":
        assert "e2" not in ids
    if command == "craft":
        assert "e2-inject-runtime_error" in ids


class _Fixed:
    async def generate_code(self, request: object, chain: object) -> str:
        return 'results = {"value": "re-recorded"}\n'

    def get_generation_metadata(self) -> dict[str, str]:
        return {"model": "fixed"}


@pytest.mark.parametrize("name", BEHAVIORS)
@pytest.mark.parametrize("command", ["edit", "prune", "scrub"])
def test_shipped_behaviour_cassettes_keep_their_layout(
    invoke: Invoke, isolated: Path, name: str, command: str
) -> None:
    path = isolated / f"{name}.yaml"
    shutil.copyfile(BEHAVIOR_DIR / f"{name}.yaml", path)
    path.write_text(decorate(path.read_text()))
    ids = [e.id for e in load_cassette(path).entries]
    target = ids[len(ids) // 2]
    if command == "scrub":
        plant(path, target)
    before = path.read_text()
    code = isolated / "new.py"
    code.write_text('results = {"value": "edited"}\n')
    args = {
        "edit": ["edit", str(path), target, "--code", str(code)],
        "prune": ["prune", str(path), "--unused-from", str(report_for(path, target))],
        "scrub": ["scrub", str(path)],
    }[command]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    after = path.read_text()
    assert_only_changed(before, after, target)
    reloaded = load_cassette(path)
    assert len(reloaded) == len(ids) - (command == "prune")


def test_a_rewrite_that_changes_nothing_leaves_the_file_alone(
    invoke: Invoke, recorded: Path
) -> None:
    before = recorded.read_bytes()
    inode = recorded.stat().st_ino
    assert invoke("rehash", str(recorded)).exit_code == 0
    assert invoke("scrub", str(recorded)).exit_code == 0
    assert recorded.read_bytes() == before and recorded.stat().st_ino == inode


def test_craft_to_another_file_keeps_the_comments(invoke: Invoke, recorded: Path) -> None:
    out = recorded.with_name("crafted.yaml")
    before = recorded.read_text()
    result = invoke("craft", str(recorded), "--entry", "e2", "--inject", "syntax_error",
                    "-o", str(out))
    assert result.exit_code == 0, result.output
    assert recorded.read_text() == before
    assert_only_changed(before, out.read_text(), "e2")


def test_crafted_entries_say_where_they_come_from(invoke: Invoke, recorded: Path) -> None:
    assert invoke("craft", str(recorded), "--entry", "e1", "--inject", "timeout").exit_code == 0
    entries = {e.id: e for e in load_cassette(recorded).entries}
    for entry_id in ("e1-inject-timeout", "e1"):
        assert entries[entry_id].origin == "crafted"
        assert entries[entry_id].derived_from == "e1"
    assert "origin: crafted" in recorded.read_text()
