"""The report format (versioned, validated on read) and combine's rules, on report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replaycodegen.atomic import write_json
from replaycodegen.errors import CassetteError
from replaycodegen.lifecycle.ci.combine import IncompleteReports, combine_reports, read_any
from replaycodegen.lifecycle.ci.ledger import LedgerWarning, read_ledger
from replaycodegen.lifecycle.ci.reports import CassetteRecord, RunReport, read_report
from replaycodegen.lifecycle.ci.shards import Shard

CASSETTE = "tests/cassettes/test_m/shared.yaml"


def shard_report(index: int, total: int, *, played: list[str], passed: list[str],
                 owners: list[str], started_at: str = "2026-01-01T00:00:00.000000Z",
                 entries: list[str] | None = None) -> RunReport:
    report = RunReport(run_id=f"run-{index}-{started_at}", started_at=started_at,
                       finished_at=started_at, root="/ci/repo", shard=Shard(index, total),
                       collected=owners, passed=passed)
    report.owned = {CASSETTE: owners}
    report.cassettes[CASSETTE] = CassetteRecord(entries=entries or ["e1", "e2", "e3"],
                                                played=played, owners=owners)
    return report


def written(tmp_path: Path, report: RunReport, name: str) -> RunReport:
    write_json(tmp_path / name, report.to_data())
    read = read_report(tmp_path / name)
    assert isinstance(read, RunReport)
    return read


def test_an_entry_is_unused_only_if_no_shard_played_it_and_every_owner_passed(
    tmp_path: Path
) -> None:
    one = written(tmp_path, shard_report(1, 2, played=["e1"], passed=["t::a"], owners=["t::a"]),
                  "1.json")
    two = written(tmp_path, shard_report(2, 2, played=["e2"], passed=["t::b"], owners=["t::b"]),
                  "2.json")
    assert combine_reports([one, two]).cassettes[CASSETTE].unused == ["e3"]
    failed = shard_report(2, 2, played=["e2"], passed=[], owners=["t::b"])
    verdict = combine_reports([one, failed]).cassettes[CASSETTE]
    assert (verdict.checked, verdict.unused, verdict.not_passed) == (False, [], ["t::b"])


def test_reports_from_differently_sharded_runs_are_refused(tmp_path: Path) -> None:
    reports = [shard_report(1, 2, played=[], passed=[], owners=[]),
               shard_report(2, 2, played=[], passed=[], owners=[]),
               shard_report(1, 3, played=[], passed=[], owners=[])]
    with pytest.raises(IncompleteReports, match=r"differently sharded runs: N=2 .*N=3") as info:
        combine_reports(reports)
    assert info.value.missing == ["2/3", "3/3"]
    partial = combine_reports(reports, allow_partial=True)
    assert not partial.complete


def test_the_run_that_started_last_wins_whatever_the_file_order(tmp_path: Path) -> None:
    old = shard_report(1, 1, played=["e1"], passed=["t::a"], owners=["t::a"],
                       started_at="2026-01-01T10:00:00.000001Z")
    new = shard_report(1, 1, played=["e1", "e2"], passed=["t::a"], owners=["t::a"],
                       started_at="2026-01-01T10:00:00.000002Z")
    for order in ([old, new], [new, old]):
        combined = combine_reports(order)
        assert combined.cassettes[CASSETTE].unused == ["e3"]
        assert [(r.run_id, r.superseded) for r in combined.reports] == [
            (new.run_id, False), (old.run_id, True)]


def test_a_combined_report_round_trips(tmp_path: Path) -> None:
    combined = combine_reports([shard_report(1, 1, played=[], passed=["t"], owners=["t"])])
    write_json(tmp_path / "c.json", combined.to_data())
    again = read_any(tmp_path / "c.json")
    assert again.to_data() == combined.to_data()  # type: ignore[union-attr]


@pytest.mark.parametrize(("content", "message"), [
    ("{", "the report is not JSON"),
    ('{"format": "replaycodegen-report", "version": 9}', "version 9 was written by a newer"),
    ('{"format": "replaycodegen-report", "version": 2, "run": {}}', "missing field 'shard'"),
    ("[1]", "not a replaycodegen report"),
])
def test_a_bad_report_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CassetteError, match=message) as info:
        read_report(path)
    assert str(path) in str(info.value)


def test_a_wrong_field_type_names_the_field(tmp_path: Path) -> None:
    data = shard_report(1, 1, played=[], passed=[], owners=[]).to_data()
    data["cassettes"][CASSETTE]["played"] = "e1"
    (tmp_path / "r.json").write_text(json.dumps(data))
    with pytest.raises(CassetteError, match=r"field: cassettes\['.*shared.yaml'\]\.played"):
        read_report(tmp_path / "r.json")


def test_a_torn_last_ledger_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    line = json.dumps({"format": "replaycodegen-miss", "version": 1, "cassette": "c.yaml",
                       "test": "t::a", "request": {"user_query": "q", "task_objective": "o",
                                                   "execution_folder_name": "f"},
                       "error_chain": [], "key": "k", "match_on": ["user_query"],
                       "reason": "no match"})
    path = tmp_path / "ledger.jsonl"
    path.write_text(line + "\n" + line[:30])
    with pytest.warns(LedgerWarning, match=":2: the last line was cut short"):
        assert [r.test for r in read_ledger(path)] == ["t::a"]
    path.write_text(line[:30] + "\n" + line + "\n")
    with pytest.raises(CassetteError, match=r"ledger.jsonl:1: not a JSON line"):
        read_ledger(path)
