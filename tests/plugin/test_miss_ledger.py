"""The miss ledger: a replay run lists every miss; `record --from-ledger` records exactly
those calls (against the loopback FakeOpenAIServer) and the next replay passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from replaycodegen.cli import cli
from replaycodegen.testing import FakeOpenAIServer

from .helpers import FAKE_KEY, codes_by_query, make_project, write_cassette

SUITE = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")


async def test_known(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q1"), [])


async def test_new_query(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q2"), [])


async def test_retry(codegen, ask):
    chain = ["NameError: name 'numpy' is not defined"]
    assert "results" in await codegen.generate_code(ask("q3"), chain)


@pytest.mark.codegen_cassette("brand_new")
async def test_new_cassette(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q4"), [])
"""


def test_a_ledger_from_replay_is_recorded_back_and_nothing_else(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(pytester, test_suite=SUITE)
    shared = root / "cassettes/test_suite/shared.yaml"
    write_cassette(shared, {"q1": "results = {'v': 1}"})
    before = shared.read_bytes()

    replay = pytester.runpytest_subprocess("-n", "2", "--codegen-ledger=ci/ledger.jsonl")
    replay.assert_outcomes(passed=1, failed=3)  # the tests that missed still fail
    replay.stdout.fnmatch_lines([
        "miss ledger: 3 misses in ci/ledger.jsonl; record them with "
        "`replaycodegen record --from-ledger ci/ledger.jsonl`"])
    lines = [json.loads(line) for line in (root / "ci/ledger.jsonl").read_text().splitlines()]
    assert sorted((line["test"], line["reason"], line["cassette"]) for line in lines) == [
        ("test_suite.py::test_new_cassette", "no such cassette",
         "cassettes/test_suite/brand_new.yaml"),
        ("test_suite.py::test_new_query", "no match", "cassettes/test_suite/shared.yaml"),
        ("test_suite.py::test_retry", "no match", "cassettes/test_suite/shared.yaml")]
    retry = next(line for line in lines if line["test"].endswith("test_retry"))
    assert retry["request"]["user_query"] == "q3"
    assert retry["error_chain"] == ["NameError: name 'numpy' is not defined"]
    assert retry["closest"] == ["e1"]
    assert not (root / "ci/ledger.jsonl.lock").exists()

    dry = CliRunner().invoke(cli, ["record", "--from-ledger", "ci", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would record 3 calls" in dry.output
    assert fake_server.requests == [] and shared.read_bytes() == before

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    recorded = CliRunner().invoke(cli, ["record", "--from-ledger", "ci/ledger.jsonl",
                                        "--base-url", fake_server.base_url])
    assert recorded.exit_code == 0, recorded.output
    assert "recorded 3 entries into 2 cassettes from 3 missed calls" in recorded.output
    assert len(fake_server.requests) == 3  # exactly the missed calls, nothing else
    assert set(codes_by_query(shared)) == {"q1", "q2", "q3"}
    assert set(codes_by_query(root / "cassettes/test_suite/brand_new.yaml")) == {"q4"}

    again = pytester.runpytest("--codegen-ledger=ci/ledger.jsonl")
    again.assert_outcomes(passed=4)
    assert (root / "ci/ledger.jsonl").read_text() == ""  # this run's misses: none
    twice = CliRunner().invoke(cli, ["record", "--from-ledger", "ci/ledger.jsonl"])
    assert twice.exit_code == 0 and "nothing to record" in twice.output
    assert len(fake_server.requests) == 3


def test_record_from_ledger_needs_a_key_and_reports_a_bad_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ledger = Path(pytester.path, "ledger.jsonl")
    ledger.write_text('{"format": "replaycodegen-miss", "version": 1}\n')
    bad = CliRunner().invoke(cli, ["record", "--from-ledger", str(ledger)])
    assert bad.exit_code == 2
    assert f"{ledger}:1: missing field" in bad.output
    ledger.write_text("")
    assert CliRunner().invoke(cli, ["record", "--from-ledger", str(ledger)]).exit_code == 0


TOKEN = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90KlMn"  # fake, in a key's shape; built here
KEY_IN_ID = """
import pytest

@pytest.mark.parametrize("token", ["<TOKEN>"])
async def test_with_token(codegen, ask, token):
    await codegen.generate_code(ask("q1"), [])
"""


def test_a_key_in_a_parametrize_id_is_not_written_to_the_ledger(
    pytester: pytest.Pytester,
) -> None:
    root = make_project(pytester, test_tok=KEY_IN_ID.replace("<TOKEN>", TOKEN))
    result = pytester.runpytest("--codegen-ledger=ledger/")
    result.assert_outcomes(failed=1)
    lines = [line for f in (root / "ledger").iterdir() for line in f.read_text().splitlines()]
    assert len(lines) == 1
    assert TOKEN not in lines[0] and TOKEN[8:] not in lines[0]
    assert json.loads(lines[0])["test"].startswith("test_tok.py::test_with_token[")


def test_a_miss_of_a_missing_cassette_is_keyed_on_the_markers_match_on(
    pytester: pytest.Pytester,
) -> None:
    from replaycodegen.cassette.keys import fingerprint

    from .helpers import ask

    make_project(pytester, test_narrow="""
import pytest


@pytest.mark.codegen_cassette(match_on=["user_query"])
async def test_narrow(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
""")
    result = pytester.runpytest("--codegen-ledger=ledger.jsonl")
    result.assert_outcomes(failed=1)
    (line,) = [json.loads(text) for text in
               (pytester.path / "ledger.jsonl").read_text().splitlines()]
    assert line["reason"] == "no such cassette"
    assert line["match_on"] == ["user_query"]
    assert line["key"] == fingerprint(ask("q1"), [], ("user_query",))
