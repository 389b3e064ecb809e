"""Shard detection and output file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from replaycodegen.lifecycle.ci.outputs import output_path, portable, resolve
from replaycodegen.lifecycle.ci.shards import WHOLE_SUITE, Shard, ShardError, detect_shard


def test_the_option_wins_then_pytest_split_then_gitlab_then_buildkite() -> None:
    env = {"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "4", "BUILDKITE_PARALLEL_JOB": "0",
           "BUILDKITE_PARALLEL_JOB_COUNT": "5"}
    assert detect_shard("3/7", split_group=1, split_splits=2, environ=env) == Shard(3, 7)
    assert detect_shard(None, split_group=1, split_splits=2, environ=env) == Shard(1, 2)
    assert detect_shard(None, environ=env) == Shard(2, 4)  # GitLab is 1-based
    del env["CI_NODE_INDEX"]
    assert detect_shard(None, environ=env) == Shard(1, 5)  # Buildkite is 0-based
    assert detect_shard(None, environ={}) == WHOLE_SUITE


@pytest.mark.parametrize(("text", "message"), [
    ("2", "is not of the form I/N"), ("0/3", "does not exist"), ("4/3", "does not exist")])
def test_a_bad_shard_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ShardError, match=message):
        detect_shard(text, environ={})
    with pytest.raises(ShardError, match="CI_NODE_INDEX='x' is not a whole number"):
        detect_shard(None, environ={"CI_NODE_INDEX": "x", "CI_NODE_TOTAL": "3"})


def test_shards_and_re_runs_never_collide(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    names = {output_path("reports/", Shard(2, 3), stem="codegen-report", suffix=".json",
                         base=tmp_path) for _ in range(20)}
    assert len(names) == 20 and all(p.parent == folder for p in names)
    assert all(p.name.startswith("codegen-report.2of3.") and p.suffix == ".json" for p in names)
    templated = output_path("out/report-{shard}.json", Shard(1, 3), stem="x", suffix=".json",
                            base=tmp_path)
    assert templated.name.startswith("report-1of3.") and templated.name.endswith(".json")
    assert templated != output_path("out/report-{shard}.json", Shard(1, 3), stem="x",
                                    suffix=".json", base=tmp_path)
    plain = output_path("report.json", Shard(1, 3), stem="x", suffix=".json", base=tmp_path)
    assert plain == tmp_path / "report.json"


def test_paths_in_reports_travel_between_checkouts(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ci_root = Path("/home/runner/work/repo")
    name = portable(ci_root / "tests/cassettes/a.yaml", ci_root)
    assert name == "tests/cassettes/a.yaml"
    (tmp_path / "tests/cassettes").mkdir(parents=True)
    (tmp_path / "tests/cassettes/a.yaml").write_text("version: 1\n")
    monkeypatch.chdir(tmp_path)
    assert resolve(name, [str(ci_root)]) == tmp_path / "tests/cassettes/a.yaml"


def test_pytest_split_is_detected_without_the_option(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from tests.plugin.helpers import make_project

    monkeypatch.delenv("CI_NODE_INDEX", raising=False)
    make_project(pytester, test_x="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    pytester.runpytest("--splits", "2", "--group", "2",
                       "--codegen-report=r.json").assert_outcomes(passed=1)
    shard = json.loads((pytester.path / "r.json").read_text())["shard"]
    assert shard == {"index": 2, "total": 2, "source": "pytest-split --group/--splits"}
    monkeypatch.setenv("CI_NODE_INDEX", "1")
    monkeypatch.setenv("CI_NODE_TOTAL", "0")
    bad = pytester.runpytest("--codegen-report=r.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*replaycodegen: shard 1/0 does not exist*"])
    pytester.runpytest().assert_outcomes(passed=2)  # no report: a stray variable is harmless
