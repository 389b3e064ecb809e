"""Orphaned cassettes: files no collected test owns, a rename recognised by its keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from replaycodegen.cli import cli

from .helpers import make_project, write_cassette

RENAMED = """
async def test_new_name(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q1"), [])


async def test_kept(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q2"), [])
"""


@pytest.fixture
def renamed(pytester: pytest.Pytester) -> Path:
    """``test_old_name`` was renamed to ``test_new_name``; ``test_deleted`` is gone."""
    root = make_project(pytester, test_mod=RENAMED)
    folder = root / "cassettes/test_mod"
    write_cassette(folder / "test_old_name.yaml", {"q1": "results = 1"})
    write_cassette(folder / "test_kept.yaml", {"q2": "results = 2"})
    write_cassette(folder / "test_deleted.yaml", {"q9": "results = 9"})
    (folder / "settings.yaml").write_text("threshold: 3\n")  # YAML, but not a cassette
    return root


def test_a_renamed_test_names_its_old_cassette(pytester: pytest.Pytester, renamed: Path) -> None:
    result = pytester.runpytest("--codegen-report=report.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "2 orphaned cassette files: no collected test owns them*",
        "  cassettes/test_mod/test_deleted.yaml: 1 entry",
        "  cassettes/test_mod/test_old_name.yaml: 1 entry (likely renamed to "
        "test_mod.py::test_new_name)",
    ])
    orphans = json.loads((renamed / "report.json").read_text())["orphans"]
    assert [(o["path"], o["likely_renamed_to"]) for o in orphans] == [
        ("cassettes/test_mod/test_deleted.yaml", []),
        ("cassettes/test_mod/test_old_name.yaml", ["test_mod.py::test_new_name"])]

    folder = renamed / "cassettes/test_mod"
    (folder / "test_old_name.yaml").rename(folder / "test_new_name.yaml")  # follow the hint
    fixed = pytester.runpytest("--codegen-report=report.json")
    fixed.assert_outcomes(passed=2)
    orphans = json.loads((renamed / "report.json").read_text())["orphans"]
    assert [o["path"] for o in orphans] == ["cassettes/test_mod/test_deleted.yaml"]

    dry = CliRunner().invoke(cli, ["prune", "--unused-from", "report.json", "--orphans",
                                   "--dry-run"])
    assert "would remove this orphaned cassette" in dry.output
    assert (folder / "test_deleted.yaml").exists()
    pruned = CliRunner().invoke(cli, ["prune", "--unused-from", "report.json", "--orphans"])
    assert pruned.exit_code == 0, pruned.output
    assert sorted(p.name for p in folder.glob("*.yaml")) == [
        "settings.yaml", "test_kept.yaml", "test_new_name.yaml"]


def test_orphans_are_not_judged_from_part_of_the_suite(pytester: pytest.Pytester,
                                                       renamed: Path) -> None:
    pytester.makepyfile(test_other="async def test_x(codegen):\n    pass\n")
    write_cassette(renamed / "cassettes/test_mod/../test_unrelated/test_y.yaml", {"q": "r = 1"})
    result = pytester.runpytest("test_other.py", "--codegen-report=report.json")
    result.assert_outcomes(passed=1)
    data = json.loads((renamed / "report.json").read_text())
    assert data["cassette_dirs"] == ["cassettes/test_other"]  # only what it collected
    assert data["orphans"] == []
    pruned = CliRunner().invoke(cli, ["prune", "--unused-from", "report.json", "--orphans"])
    assert pruned.exit_code == 0
    assert (renamed / "cassettes/test_mod/test_deleted.yaml").exists()


def test_prune_refuses_orphans_from_a_node_id_run(pytester: pytest.Pytester,
                                                  renamed: Path) -> None:
    pytester.runpytest("test_mod.py::test_kept", "--codegen-report=report.json")
    pruned = CliRunner().invoke(cli, ["prune", "--unused-from", "report.json", "--orphans"])
    assert pruned.exit_code == 1
    assert "tests were chosen by node id" in pruned.output
    assert (renamed / "cassettes/test_mod/test_deleted.yaml").exists()


def test_a_fifo_or_a_device_link_among_the_cassettes_never_hangs_the_report(
    pytester: pytest.Pytester, renamed: Path
) -> None:
    folder = renamed / "cassettes/test_mod"
    os.mkfifo(folder / "pipe.codegen.yaml")  # opened for reading, it would block for ever
    (folder / "zero.codegen.yaml").symlink_to("/dev/zero")  # read, it would never end
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--codegen-report=report.json",
                                           timeout=60)
    result.assert_outcomes(passed=1, failed=1)
    orphans = json.loads((renamed / "report.json").read_text())["orphans"]
    assert [o["path"] for o in orphans] == ["cassettes/test_mod/test_deleted.yaml",
                                            "cassettes/test_mod/test_old_name.yaml"]
