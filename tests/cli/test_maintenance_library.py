"""The library under the CLI: craft, lint and cassette_ops as pure functions."""

from __future__ import annotations

import pytest

from replaycodegen.cassette.model import Cassette, Entry, Pattern, entry_from_pair
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.writing.serialize import dump_cassette
from replaycodegen.errors import CassetteError
from replaycodegen.maintenance.craft import (
    INJECTED_CODE,
    InvalidCode,
    inject_failure,
    replace_code,
    scaffold_from_code,
    syntax_problem,
)
from replaycodegen.maintenance.diff import diff_cassettes
from replaycodegen.maintenance.entries import EntryLocator, example_request_fields
from replaycodegen.maintenance.lint import lint_text
from replaycodegen.maintenance.prune import prune_entries
from replaycodegen.maintenance.rehash import stale_keys
from replaycodegen.maintenance.secret_scan import find_secrets
from tests.cli.conftest import BROKEN_CODE, FIXED_CODE, GOOD_CODE, name_error, request


def recorded() -> Cassette:
    cassette = Cassette(path="mem.yaml")
    for number, (req, chain, code) in enumerate([
        (request("add"), [], GOOD_CODE),
        (request("mean"), [], BROKEN_CODE),
        (request("mean"), [name_error()], FIXED_CODE),
    ], 1):
        cassette.add(entry_from_pair(entry_id=f"e{number}", request=req, error_chain=chain,
                                     code=code, match_on=cassette.match_on))
    return cassette


def test_every_injected_code_but_syntax_error_parses() -> None:
    for kind, code in INJECTED_CODE.items():
        assert (syntax_problem(code) is not None) == (kind == "syntax_error"), kind


def test_inject_failure_serves_failure_then_recorded_code() -> None:
    cassette = recorded()
    crafted = inject_failure(cassette, "e1", "missing_results")
    assert crafted.attempt == 1 and crafted.warnings == []
    req = request("add")
    first = cassette.select(req, [])
    assert first is not None and first.entry.id == "e1-inject-missing_results"
    second = cassette.select(req, ["MissingResults: no results"])
    assert second is not None and second.entry.code == GOOD_CODE
    assert cassette.select(request("other"), []) is None  # scoped to the recorded request


def test_inject_failure_errors() -> None:
    cassette = recorded()
    with pytest.raises(CassetteError, match="unknown failure kind"):
        inject_failure(cassette, "e1", "meteor")
    inject_failure(cassette, "e1", "timeout")
    with pytest.raises(CassetteError, match="is hand-authored"):
        inject_failure(cassette, "e1", "timeout")


def test_replace_code_checks_syntax() -> None:
    cassette = recorded()
    with pytest.raises(InvalidCode, match="does not parse"):
        replace_code(cassette, "e1", "def f(:\n")
    entry = replace_code(cassette, "e1", "def f(:\n", allow_invalid=True)
    assert entry.meta["expect"] == "syntax_error"
    assert replace_code(cassette, "e1", "def g(:\n").code == "def g(:\n"  # expected now


def test_scaffold_from_code_round_trips() -> None:
    cassette = scaffold_from_code("results = {}\n", path="new.yaml")
    text = dump_cassette(cassette)
    result = lint_text(text, "new.yaml")
    assert result.load_error is None and result.findings == []


def test_lint_never_leaks_the_secret() -> None:
    secret = "ghp_" + "a1B2" * 8
    cassette = Cassette([Entry(id="x", code=f"token = '{secret}'\n", when=Pattern())],
                        path="s.yaml")
    result = lint_text(dump_cassette(cassette), "s.yaml")
    (finding,) = result.findings
    assert finding.rule == "secret" and finding.fixable
    assert secret not in str(finding) and secret not in repr(finding.to_data())
    assert find_secrets(cassette, Scrubber(use_environment=False)) == {"x": ["code"]}


def test_entry_locator_lines() -> None:
    text = dump_cassette(recorded())
    locate = EntryLocator(text)
    lines = text.splitlines()
    for index in range(3):
        line = locate.line(index)
        assert line is not None and lines[line - 1].strip() == f"- id: e{index + 1}"
        key_line = locate.line(index, "key")
        assert key_line is not None and lines[key_line - 1].strip().startswith("key:")
    code_line = locate.code_line(2, 1)
    assert code_line is not None and lines[code_line - 1].strip() == "import statistics"
    assert locate.line(7) is None and EntryLocator("{bad").line(0) is None


def test_stale_prune_and_request_fields() -> None:
    cassette = recorded()
    cassette.entries[0].stored_key = "0" * 64
    assert [e.id for e in stale_keys(cassette)] == ["e1", "e2", "e3"]  # e2, e3: no stored key
    removed, missing = prune_entries(cassette, ["e2", "zz", "e2"])
    assert [e.id for e in removed] == ["e2"] and missing == ["zz"]
    assert example_request_fields(cassette)["user_query"] == "add"
    assert example_request_fields(cassette, "e3")["user_query"] == "mean"


def test_diff_pairs_repeated_keys_in_order() -> None:
    a, b = recorded(), recorded()
    b.add(entry_from_pair(entry_id="e4", request=request("add"), error_chain=[],
                          code="x = 2\n", match_on=b.match_on))
    result = diff_cassettes(a, b)
    assert [(c.status, c.entry_id) for c in result.changes] == [("added", "e4")]
    assert result.unchanged == 3 and not result.match_on_changed
