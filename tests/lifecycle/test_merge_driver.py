"""The cassette merge driver, run by real `git merge` in a temporary repository."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from replaycodegen import MockCodeGenerator, load_cassette
from replaycodegen.lifecycle.merge_driver import merge

from .helpers import add_entry, ask, write_cassette

CASSETTE = "tests/cassettes/test_beam/test_mean.codegen.yaml"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60,
                          check=check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose cassettes merge with replaycodegen, as docs/cli.md says."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    driver = f"{shlex.quote(sys.executable)} -m replaycodegen.cli merge-driver %O %A %B %L %P"
    git(root, "config", "merge.replaycodegen.driver", driver)
    (root / ".gitattributes").write_text("tests/cassettes/** merge=replaycodegen\n")
    write_cassette(root / CASSETTE, {"q1": "results = {'v': 1}", "q2": "results = {'v': 2}"},
                   header_comment="beam statistics, recorded by hand-picked prompts")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def commit_on(repo: Path, branch: str, change: object, start: str = "main") -> None:
    git(repo, "checkout", "-q", "-b", branch, start)
    assert callable(change)
    change(repo / CASSETTE)
    git(repo, "commit", "-q", "-am", branch)


def answers(path: Path) -> dict[str, str]:
    generator = MockCodeGenerator(cassette=path)
    import asyncio

    out = {}
    for entry in load_cassette(path).entries:
        query = (entry.request or {})["user_query"]
        out[query] = asyncio.run(generator.generate_code(ask(query), [])).strip()
    return out


def test_entries_added_and_changed_on_both_branches_merge_cleanly(repo: Path) -> None:
    def ours(path: Path) -> None:
        edit(path, "results = {'v': 1}", "results = {'v': 10}")
        assert add_entry(path, "q3", "results = {'v': 3}") == "e3"

    def theirs(path: Path) -> None:
        edit(path, "results = {'v': 2}", "results = {'v': 20}")
        assert add_entry(path, "q4", "results = {'v': 4}") == "e3"  # the same new id

    commit_on(repo, "theirs", theirs)
    git(repo, "checkout", "-q", "main")
    commit_on(repo, "ours", ours)
    merged = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    path = repo / CASSETTE
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# beam statistics, recorded by hand-picked prompts\n")
    assert "<<<<<<<" not in text
    assert [e.id for e in load_cassette(path).entries] == ["e1", "e2", "e3", "e4"]
    assert answers(path) == {"q1": "results = {'v': 10}", "q2": "results = {'v': 20}",
                             "q3": "results = {'v': 3}", "q4": "results = {'v': 4}"}
    assert git(repo, "status", "--porcelain").stdout == ""


def test_an_entry_deleted_on_one_side_and_untouched_on_the_other_goes(repo: Path) -> None:
    def prune_e1(path: Path) -> None:
        cassette = load_cassette(path)
        keep = "".join(line for line in path.read_text().splitlines(keepends=True))
        start = keep.index("  - id: e1")
        end = keep.index("  - id: e2")
        path.write_text(keep[:start] + keep[end:])
        assert len(load_cassette(path)) == len(cassette) - 1

    commit_on(repo, "theirs", lambda p: add_entry(p, "q5", "results = {'v': 5}"))
    git(repo, "checkout", "-q", "main")
    commit_on(repo, "ours", prune_e1)
    assert git(repo, "merge", "--no-edit", "theirs", check=False).returncode == 0
    assert answers(repo / CASSETTE) == {"q2": "results = {'v': 2}", "q5": "results = {'v': 5}"}


def test_the_same_entry_changed_differently_is_a_conflict_lint_points_at(repo: Path) -> None:
    commit_on(repo, "theirs", lambda p: edit(p, "results = {'v': 1}", "results = {'v': 'b'}"))
    git(repo, "checkout", "-q", "main")
    commit_on(repo, "ours", lambda p: edit(p, "results = {'v': 1}", "results = {'v': 'a'}"))
    merged = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert merged.returncode != 0
    assert "CONFLICT" in merged.stdout
    path = repo / CASSETTE
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines, 1) if line.startswith("<<<<<<< "))
    end = next(i for i, line in enumerate(lines, 1) if line.startswith(">>>>>>> "))
    block = "\n".join(lines[start - 1:end])
    assert "results = {'v': 'a'}" in block and "results = {'v': 'b'}" in block
    assert "results = {'v': 2}" not in block  # only the conflicting entry is in it
    assert git(repo, "diff", "--name-only", "--diff-filter=U").stdout.strip() == CASSETTE
    lint = subprocess.run([sys.executable, "-m", "replaycodegen.cli", "lint", CASSETTE],
                          cwd=repo, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 2
    found = re.search(rf"{re.escape(CASSETTE)}:(\d+):", lint.stderr)
    assert found is not None, lint.stderr
    assert start <= int(found.group(1)) <= end


def test_merge_keeps_untouched_entries_text_and_comments() -> None:
    base = ("version: 1\nmatch_on: [user_query]\nentries:\n"
            "  - id: p1  # the fallback\n    when: {}\n    code: |\n      x = 1\n")
    ours = base + "  - id: p2\n    when: {attempt: 2}\n    code: |\n      x = 2\n"
    theirs = ("version: 1\nmatch_on: [user_query]\nentries:\n"  # written by hand, unindented
              "- id: p1  # the fallback\n  when: {}\n  code: |\n    x = 1\n"
              "- id: p2\n  when: {attempt: 3}\n  code: |\n    x = 3\n")
    result = merge(base, ours, theirs)
    assert result.clean and result.renumbered == {"p2": "p3"}
    assert result.text == ours + "  - id: p3\n    when: {attempt: 3}\n    code: |\n      x = 3\n"


def test_a_version_that_is_not_a_cassette_is_merged_as_text(tmp_path: Path) -> None:
    base, ours, theirs = (tmp_path / n for n in ("base", "ours", "theirs"))
    base.write_text("one\ntwo\nthree\n")
    ours.write_text("one\ntwo\nthree\nfour\n")
    theirs.write_text("zero\none\ntwo\nthree\n")
    done = subprocess.run([sys.executable, "-m", "replaycodegen.cli", "merge-driver", str(base),
                           str(ours), str(theirs), "7", "notes.yaml"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "merging it as text (git merge-file)" in done.stderr
    assert ours.read_text() == "zero\none\ntwo\nthree\nfour\n"


def test_a_renumbered_entry_takes_the_entries_crafted_from_it_along(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from replaycodegen.cli import cli

    base = tmp_path / "base.yaml"
    write_cassette(base, {"q1": "results = {'v': 1}", "q2": "results = {'v': 2}"})
    ours, theirs = tmp_path / "ours.yaml", tmp_path / "theirs.yaml"
    ours.write_text(base.read_text())
    theirs.write_text(base.read_text())
    assert add_entry(ours, "q3", "results = {'v': 3}") == "e3"
    assert add_entry(theirs, "q4", "results = {'v': 4}") == "e3"  # the same new id
    crafted = CliRunner().invoke(cli, ["craft", str(theirs), "--entry", "e3",
                                       "--inject", "syntax_error"])
    assert crafted.exit_code == 0, crafted.output

    result = merge(base.read_text(), ours.read_text(), theirs.read_text())
    assert result.clean
    assert result.renumbered == {"e3": "e4", "e3-inject-syntax_error": "e4-inject-syntax_error"}
    merged = tmp_path / "merged.yaml"
    merged.write_text(result.text)
    entries = {e.id: e for e in load_cassette(merged).entries}
    assert entries["e3"].code.strip() == "results = {'v': 3}"  # ours, untouched
    assert entries["e4"].code.strip() == "results = {'v': 4}"  # theirs (now the retry)
    derived = entries["e4-inject-syntax_error"]
    assert derived.derived_from == "e4"  # follows its source, not ours' unrelated e3
    assert derived.meta.get("crafted_from") == "e4"
    assert entries["e4"].derived_from == "e4"
