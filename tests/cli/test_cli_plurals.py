"""Counts read right (issue 15 item 8): ``plural()`` and what the commands print with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from replaycodegen.generation.budget import RecordingBudget
from replaycodegen.lifecycle.freshness.expiry import describe_age
from replaycodegen.plural import plural, plural_form
from tests.cli.conftest import Invoke, request, write_cassette
from tests.cli.test_cli_maintain import report, stale


@pytest.mark.parametrize(("count", "singular", "expected"), [
    (0, "entry", "0 entries"), (1, "entry", "1 entry"), (2, "entry", "2 entries"),
    (1, "key", "1 key"), (3, "key", "3 keys"), (2, "day", "2 days"),
    (1, "miss", "1 miss"), (2, "miss", "2 misses"), (2, "box", "2 boxes"),
    (2, "match", "2 matches"), (2, "failed attempt", "2 failed attempts"),
    (1, "request", "1 request"), (-1, "entry", "-1 entries"),
])
def test_plural(count: int, singular: str, expected: str) -> None:
    assert plural(count, singular) == expected


def test_irregular_nouns_are_given() -> None:
    assert plural(1, "line of code", "lines of code") == "1 line of code"
    assert plural(2, "line of code", "lines of code") == "2 lines of code"
    assert plural_form("entry") == "entries" and plural_form("retry") == "retries"


def test_library_texts_the_cli_prints() -> None:
    import datetime as dt

    assert describe_age(dt.timedelta(days=1)) == "1 day"
    assert describe_age(dt.timedelta(hours=5)) == "5 hours"
    budget = RecordingBudget(max_calls=1)
    assert budget.describe() == "0 of 1 call, 0 tokens"


def test_one_of_each_as_the_commands_print_it(invoke: Invoke, isolated: Path) -> None:
    one = write_cassette(isolated / "one.yaml", [(request("q"), [], "x = 1\n")])
    assert "1 entry (1 recorded, 0 hand-authored)" in invoke("show", str(one)).stdout
    assert invoke("lint", str(one)).stdout == "1 file checked: 1 clean, 0 findings\n"
    assert "1 entry: 0 fresh, 1 stale, 0 kept" in invoke("status", str(one)).stdout
    stale_one = stale(write_cassette(isolated / "s.yaml", [(request("add numbers"), [],
                                                             "x = 1\n")]))
    assert "s.yaml: rewrote 1 key (e1)" in invoke("rehash", str(stale_one)).stdout
    rep = report(isolated / "r.json", {str(one.resolve()): ["e1"]})
    assert "removed 1 unused entry: e1" in invoke("prune", str(one), "--unused-from",
                                                   str(rep)).stdout
    created = invoke("new", "hand.yaml").stdout
    assert "1 hand-authored entry (success)" in created
    (isolated / "code.py").write_text("results = {'value': 1}\n")
    edited = invoke("edit", "hand.yaml", "success", "--code", "code.py").stdout
    assert "1 line of code" in edited


def test_a_miss_counts_its_differences(invoke: Invoke, isolated: Path) -> None:
    one = write_cassette(isolated / "one.yaml", [(request("q"), [], "x = 1\n")])
    miss = invoke("run", "--cassette", str(one), "--query", "other", "--objective", "answer it")
    assert miss.exit_code == 1
    assert "1 difference\n" in miss.stderr and "(s)" not in miss.stderr
    assert "(1 entry)" in miss.stderr


def test_no_command_output_says_s_in_brackets(invoke: Invoke, sample: Path,
                                              isolated: Path) -> None:
    stale(sample)
    outputs = [invoke(*args) for args in (
        ("lint", str(sample)), ("rehash", str(sample)), ("show", str(sample)),
        ("status", str(sample)), ("run", "--behavior", "runtime_error", "--retries", "2"),
        ("ls", str(isolated)),
    )]
    for result in outputs:
        assert "(s)" not in result.output and "entrys" not in result.output
