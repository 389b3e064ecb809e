"""Sharded CI: every shard writes a report, `combine` merges them, `prune` removes only what
no shard used (real pytest-split shards, xdist workers inside each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from replaycodegen.cli import cli

from .helpers import codes_by_query, make_project, write_cassette

SHARED = "cassettes/shared.yaml"

# Six tests in three modules: one cassette shared by a test of each module, and one of
# each module's own. pytest-split puts two tests in each of three shards.
MODULE = """
import os
from pathlib import Path

import pytest

SHARED = str(Path(__file__).parent / "cassettes" / "shared.yaml")


@pytest.mark.codegen_cassette(SHARED)
async def test_{name}_shared(codegen, ask):
    assert "results" in await codegen.generate_code(ask("shared-{name}"), [])


async def test_{name}_own(codegen, ask):
    assert os.environ.get("FAIL_{upper}") is None
    assert "results" in await codegen.generate_code(ask("own-{name}"), [])
"""
NAMES = ("a", "b", "c")


def cli_run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Path:
    root = make_project(pytester, **{f"test_{n}": MODULE.format(name=n, upper=n.upper())
                                     for n in NAMES})
    write_cassette(root / SHARED, {"shared-a": "results = 'a'", "shared-b": "results = 'b'",
                                   "shared-c": "results = 'c'", "shared-old": "results = 0"})
    for n in NAMES:
        write_cassette(root / f"cassettes/test_{n}/test_{n}_own.yaml",
                       {f"own-{n}": f"results = '{n}'", f"own-{n}-old": "results = 0"})
    write_cassette(root / "cassettes/test_a/test_a_deleted.yaml", {"gone": "results = 0"})
    return root


def run_shard(pytester: pytest.Pytester, index: int, *extra: str,
              subprocess: bool = False) -> pytest.RunResult:
    args = ("--splits", "3", "--group", str(index), f"--codegen-shard={index}/3",
            "--codegen-report=reports/", "--codegen-unused=fail", *extra)
    if subprocess:
        return pytester.runpytest_subprocess("-n", "2", *args)
    return pytester.runpytest(*args)


def test_three_shards_with_two_workers_each_prune_only_what_no_shard_used(
    pytester: pytest.Pytester, suite: Path
) -> None:
    for index in (1, 2, 3):
        shard = run_shard(pytester, index, subprocess=True)
        shard.assert_outcomes(passed=2)
        assert shard.ret == pytest.ExitCode.OK  # a shard cannot tell what is unused
        shard.stdout.fnmatch_lines([f"shard {index}/3 (--codegen-shard): unused entries *"])
    files = sorted((suite / "reports").glob("*.json"))
    assert [f.name.split(".")[1] for f in files] == ["1of3", "2of3", "3of3"]
    reports = [json.loads(f.read_text()) for f in files]
    assert sorted(t for r in reports for t in r["collected"]) == sorted(
        f"test_{n}.py::test_{n}_{kind}" for n in NAMES for kind in ("shared", "own"))
    # what broke syrupy: a shard alone would call the other shards' entries unused
    assert any(len(r["cassettes"].get(SHARED, {}).get("played", [])) == 1 for r in reports)

    combined = cli_run("combine", "reports", "-o", "reports/combined.json")
    assert combined.exit_code == 0, combined.output
    data = json.loads((suite / "reports/combined.json").read_text())
    assert data["complete"] is True
    assert {name: c["unused"] for name, c in data["cassettes"].items()} == {
        SHARED: ["e4"], **{f"cassettes/test_{n}/test_{n}_own.yaml": ["e2"] for n in NAMES}}
    assert [o["path"] for o in data["orphans"]] == ["cassettes/test_a/test_a_deleted.yaml"]

    pruned = cli_run("prune", "--unused-from", "reports", "--orphans")  # combines it itself
    assert pruned.exit_code == 0, pruned.output
    assert set(codes_by_query(suite / SHARED)) == {"shared-a", "shared-b", "shared-c"}
    for n in NAMES:
        assert set(codes_by_query(suite / f"cassettes/test_{n}/test_{n}_own.yaml")) == {
            f"own-{n}"}
    assert not (suite / "cassettes/test_a/test_a_deleted.yaml").exists()
    for index in (1, 2, 3):  # the next CI run: its reports replace the old ones
        run_shard(pytester, index).assert_outcomes(passed=2)
    again = cli_run("combine", "reports")
    assert "3 older re-runs replaced): 4 cassettes, 0 unused entries, 0 orphans" in (
        again.output)


def test_a_missing_shard_is_refused_and_prune_touches_nothing(
    pytester: pytest.Pytester, suite: Path
) -> None:
    for index in (1, 3):
        run_shard(pytester, index).assert_outcomes(passed=2)
    before = (suite / SHARED).read_bytes()

    refused = cli_run("combine", "reports", "-o", "combined.json")
    assert refused.exit_code == 1
    assert "missing shard 2/3 (have 1/3, 3/3)" in refused.output
    assert not (suite / "combined.json").exists()
    pruned = cli_run("prune", "--unused-from", "reports")
    assert pruned.exit_code == 1 and "missing shard 2/3" in pruned.output
    assert (suite / SHARED).read_bytes() == before

    partial = cli_run("combine", "reports", "--allow-partial", "-o", "partial.json")
    assert partial.exit_code == 0
    assert "PARTIAL: missing shard 2/3" in partial.output
    assert json.loads((suite / "partial.json").read_text())["complete"] is False
    refused_partial = cli_run("prune", "--unused-from", "partial.json")
    assert refused_partial.exit_code == 1 and "the report is partial" in refused_partial.output
    assert (suite / SHARED).read_bytes() == before


def test_a_re_run_shard_replaces_its_old_report(
    pytester: pytest.Pytester, suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in (1, 2, 3):
        run_shard(pytester, index)
    failing = next(n for n in NAMES if any(
        f"test_{n}_own" in t for f in (suite / "reports").glob("*2of3*.json")
        for t in json.loads(f.read_text())["collected"]))
    own = f"cassettes/test_{failing}/test_{failing}_own.yaml"
    monkeypatch.setenv(f"FAIL_{failing.upper()}", "1")
    first = cli_run("combine", "reports", "--json")
    assert json.loads(first.output)["cassettes"][own]["unused"] == ["e2"]

    run_shard(pytester, 2).assert_outcomes(passed=1, failed=1)  # the CI re-run fails...
    monkeypatch.delenv(f"FAIL_{failing.upper()}")
    failed = json.loads(cli_run("combine", "reports", "--json").output)
    assert failed["cassettes"][own]["checked"] is False  # its owner did not pass
    assert failed["cassettes"][own]["not_passed"] == [f"test_{failing}.py::test_{failing}_own"]

    run_shard(pytester, 2).assert_outcomes(passed=2)  # ... and the next re-run passes
    assert len(list((suite / "reports").glob("*2of3*.json"))) == 3
    latest = json.loads(cli_run("combine", "reports", "--json").output)
    assert latest["cassettes"][own]["unused"] == ["e2"]
    assert sum(r["superseded"] for r in latest["reports"]) == 2
