"""``--json`` on every command that prints data (issue 15 item 9): stdout is one JSON
document and nothing else, its counts agree with the lists they count, and an error is a
JSON document too (``{"error": {...}}``) with the exit code it has without ``--json``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from replaycodegen.cassette.keys import fingerprint
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cli import app, context
from replaycodegen.lifecycle.ci.ledger import make_record
from replaycodegen.testing import FakeOpenAIServer, fenced
from tests.cli.conftest import ROOT, Invoke, request, stderr_lines, write_cassette
from tests.cli.test_cli_maintain import SECRET, leaky, report, stale
from tests.cli.test_cli_record import DUMMY_KEY, record

WITHOUT_JSON = {"merge-driver"}
"""git runs it and reads only its exit code and the file it writes (docs/cli.md)."""
ERROR_KEYS = {"message", "path", "line", "field", "hint", "exit_code"}


def document(result: Result) -> Any:
    """The whole of stdout, parsed: it must be one JSON document and nothing else."""
    return json.loads(result.stdout)


# -- which commands ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(app.COMMANDS) - WITHOUT_JSON))
def test_every_command_that_prints_data_takes_json(invoke: Invoke, name: str) -> None:
    assert "--json" in invoke(name, "--help").stdout


def test_docs_give_one_shape_per_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## JSON output", 1)[1].split("\n## ", 1)[0]
    headings = [line for line in section.splitlines() if line.startswith("### ")]
    documented = {name for line in headings for name in re.findall(r"`([a-z-]+)`", line)}
    assert documented == set(app.COMMANDS) - WITHOUT_JSON


# -- run -----------------------------------------------------------------------------------


def test_run_json_tells_every_attempt_and_the_results(invoke: Invoke) -> None:
    result = invoke("run", "--json")
    assert result.exit_code == 0
    data = document(result)
    assert data["status"] == "ok" and "error" not in data
    first, second = data["attempts"]
    assert (first["number"], first["entry_id"], first["failure"]["type"]) == (1, "e1", "NameError")
    assert first["failure"]["stage"] == "execution" and "statistics" in first["code"]
    assert second["failure"] is None
    assert data["result"]["attempt"] == 2
    assert data["result"]["results"]["mean_current"] == 500.0
    assert data["request"]["user_query"] and data["offline_guard"] is True


def test_a_failed_run_is_a_document_with_the_error_and_exit_1(invoke: Invoke) -> None:
    result = invoke("run", "--json", "--behavior", "runtime_error", "--retries", "2")
    assert result.exit_code == 1
    data = document(result)
    assert data["status"] == "failed" and data["result"] is None
    assert [a["failure"]["type"] for a in data["attempts"]] == ["ZeroDivisionError"] * 2
    assert set(data["error"]) == ERROR_KEYS and data["error"]["exit_code"] == 1
    assert "--retries N" in data["error"]["message"]
    assert stderr_lines(result) == [f"error: {data['error']['message']}"]


def test_run_json_never_asks_and_says_what_was_approved(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "stdin_is_interactive", lambda: True)
    waiting = invoke("run", "--json", "--behavior", "channel_write", input="y\n")
    assert waiting.exit_code == 1
    assert "Approve and run" not in waiting.output
    assert document(waiting)["status"] == "needs approval"
    approved = document(invoke("run", "--json", "--behavior", "channel_write", "--approve"))
    assert approved["approvals"] == [{"attempt": 1, "by": "--approve"}]
    assert approved["result"]["channel_writes"] == [
        {"channel": "MAGNET:QF1:SETPOINT", "previous": 120.0, "value": 121.5}]


# -- record --------------------------------------------------------------------------------


def test_record_json_counts_agree_with_its_lists(invoke: Invoke, server: FakeOpenAIServer,
                                                 isolated: Path) -> None:
    server.queue_response(fenced('results = {"mean": statistics.mean([1, 2])}'))
    server.queue_response(fenced('import statistics\nresults = {"mean": 1.5}'))
    result = record(invoke, server, "--cassette", "rec.yaml", "--query", "mean", "--json")
    assert result.exit_code == 0, result.output
    data = document(result)
    entries = load_cassette(isolated / "rec.yaml").entries
    assert [e["id"] for e in data["recorded"]] == [e.id for e in entries] == ["e1", "e2"]
    assert data["entries_in_cassette"] == len(entries)
    assert data["calls"] == {"total": 2, "recorded": 2, "replayed": 0}
    (req,) = data["requests"]
    assert req["status"] == "ok" and len(req["attempts"]) == req["recorded"] + req["replayed"]
    assert data["ok"] == sum(1 for r in data["requests"] if r["status"] == "ok")
    assert data["tokens"] == sum(e.meta["usage"]["total_tokens"] for e in entries)

    again = document(record(invoke, server, "--cassette", "rec.yaml", "--query", "mean",
                            "--json"))
    assert again["recorded"] == [] and again["already_recorded"] == 1
    assert again["calls"] == {"total": 2, "recorded": 0, "replayed": 2}


def test_record_dry_run_json(invoke: Invoke, server: FakeOpenAIServer, isolated: Path) -> None:
    data = document(record(invoke, server, "--cassette", "new.yaml", "--query", "q",
                           "--dry-run", "--json"))
    assert data["dry_run"] is True and data["calls"] == len(data["would_call"]) == 1
    assert not (isolated / "new.yaml").exists() and server.requests == []


def test_record_json_failure_keeps_the_whole_message(invoke: Invoke, isolated: Path,
                                                     no_backoff: None) -> None:
    result = invoke("record", "--cassette", "c.yaml", "--query", "q", "--base-url",
                    "http://127.0.0.1:9/v1", "--max-retries", "0", "--json",
                    env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 1
    data = document(result)
    (req,) = data["requests"]
    assert req["status"] == "failed"
    assert req["message"].endswith("and reachable from here.")
    assert req["message"] in data["error"]["message"]


def test_rerecord_json_counts_agree_with_the_outcomes(invoke: Invoke, server: FakeOpenAIServer,
                                                    demo_copy: Path) -> None:
    dry = document(invoke("record", str(demo_copy), "--stale", "--dry-run", "--json"))
    assert dry["dry_run"] is True
    assert [e["id"] for c in dry["cassettes"] for e in c["entries"]] == ["e1", "e2"]
    result = record(invoke, server, str(demo_copy), "--stale", "--json")
    assert result.exit_code == 0, result.output
    data = document(result)
    outcomes = [e["outcome"] for c in data["cassettes"] for e in c["entries"]]
    for name, count in data["counts"].items():
        assert count == sum(1 for o in outcomes if o.startswith(name))
    assert data["calls"] == len(server.requests) == 1
    assert [r["status"] for r in data["requests"]] == ["ok"]


def test_record_from_ledger_json(invoke: Invoke, server: FakeOpenAIServer,
                                 isolated: Path) -> None:
    wanted = request("from the ledger")
    line = make_record(cassette=str(isolated / "missed.yaml"), root="", test="t.py::t",
                       request=wanted, chain=[], key=fingerprint(wanted), match_on=[
                           "user_query", "task_objective", "expected_results",
                           "capability_prompts", "capability_context_data"],
                       reason="no such cassette", closest=[], shard="1/1", run_id="r")
    ledger = isolated / "misses.jsonl"
    ledger.write_text(json.dumps(line.to_data()) + "\n")
    dry = document(invoke("record", "--from-ledger", str(ledger), "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["misses"] == len(dry["calls"]) == 1
    done = document(record(invoke, server, "--from-ledger", str(ledger), "--json"))
    (call,) = done["calls"]
    assert call["status"] == "recorded" and done["recorded"] == len(call["entry_ids"]) == 1
    assert [e.id for e in load_cassette(isolated / "missed.yaml").entries] == call["entry_ids"]


# -- maintenance -----------------------------------------------------------------------------


def test_lint_json_counts_agree(invoke: Invoke, sample: Path, isolated: Path) -> None:
    stale(sample)
    (isolated / "broken.yaml").write_text("version: 1\nentries: {e1: x}\n")
    result = invoke("lint", "--json", str(sample), "broken.yaml", "missing.yaml")
    assert result.exit_code == 2
    data = document(result)
    files = data["files"]
    assert data["checked"] == len(files) == 3
    assert data["findings"] == sum(len(f["findings"]) for f in files) == 1
    assert data["unloadable"] == sum(1 for f in files if not f["loaded"]) == 2
    assert data["errors"] == sum(1 for f in files if f["error"]) == 2
    assert data["clean"] == 0
    assert "check the path" in files[2]["error"]


def test_rehash_json(invoke: Invoke, sample: Path, isolated: Path) -> None:
    other = write_cassette(isolated / "other.yaml", [(request("q"), [], "x = 1\n")])
    stale(sample)
    result = invoke("rehash", "--json", str(sample), str(other), "missing.yaml")
    assert result.exit_code == 2  # a missing file, after the others were done
    data = document(result)
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert files["sample.yaml"]["rewrote"] == ["e1"] and not files["sample.yaml"]["untouched"]
    assert files["other.yaml"]["untouched"] and files["other.yaml"]["rewrote"] == []
    assert files["missing.yaml"]["error"].endswith("fix: check the path")
    assert data["rewrote"] == sum(len(f["rewrote"]) for f in data["files"]) == 1
    assert data["errors"] == 1


def test_scrub_json(invoke: Invoke, isolated: Path) -> None:
    path = write_cassette(isolated / "leak.yaml", [(request("q"), [], "x = 1  # LEAK\n")])
    leaky(path)
    data = document(invoke("scrub", "--json", str(path)))
    (file,) = data["files"]
    assert file["scrubbed"] == [{"entry": "e1", "fields": ["code"]}]
    assert data["scrubbed"] == 1 and data["errors"] == 0
    assert SECRET not in path.read_text()


def test_prune_json(invoke: Invoke, sample: Path, isolated: Path) -> None:
    rep = report(isolated / "report.json", {str(sample.resolve()): ["e2", "e9"]})
    dry = document(invoke("prune", "--json", "--dry-run", "--unused-from", str(rep)))
    (cassette,) = dry["cassettes"]
    assert cassette["removed"] == ["e2"] and cassette["missing"] == ["e9"]
    assert dry["removed"] == 1 and len(load_cassette(sample).entries) == 3
    done = document(invoke("prune", "--json", "--unused-from", str(rep)))
    assert done["dry_run"] is False and done["removed"] == 1
    assert [e.id for e in load_cassette(sample).entries] == ["e1", "e3"]


def test_status_json_counts_agree(invoke: Invoke, sample: Path) -> None:
    data = document(invoke("status", "--json", str(sample), "missing.yaml"))
    states = [e["state"] for c in data["cassettes"] for e in c["entries"]]
    assert data["stale"] == states.count("stale")
    assert data["unloadable"] == sum(1 for c in data["cassettes"] if c["error"]) == 1
    assert data["cassettes"][1]["error"].endswith("fix: check the path")


# -- authoring -------------------------------------------------------------------------------


def test_new_edit_craft_json(invoke: Invoke, sample: Path, isolated: Path) -> None:
    created = document(invoke("new", "--json", "hand.yaml"))
    assert created == {"path": "hand.yaml", "created": True, "entries": ["success"]}
    (isolated / "code.py").write_text("results = {'value': 1}\n")
    edited = document(invoke("edit", "--json", "hand.yaml", "success", "--code", "code.py"))
    assert edited == {"path": "hand.yaml", "entry": "success", "changed": True, "lines": 1,
                      "marked_syntax_error": False}
    crafted = document(invoke("craft", "--json", str(sample), "--entry", "e1", "--inject",
                              "runtime_error", "-o", "crafted.yaml"))
    assert [a["fails"] for a in crafted["attempts"]] == [True, False]
    assert crafted["attempts"][1]["entry"] == "e1"


# -- errors as JSON --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["show", "missing.yaml"],
    ["diff", "missing.yaml", "missing.yaml"],
    ["run", "--cassette", "missing.yaml"],
    ["edit", "missing.yaml", "e1", "--code", "-"],
    ["craft", "missing.yaml", "--entry", "e1", "--inject", "timeout"],
])
def test_an_error_is_a_json_document_with_the_same_exit_code(invoke: Invoke,
                                                              args: list[str]) -> None:
    plain = invoke(*args, input="")
    as_json = invoke(*args, "--json", input="")
    assert plain.exit_code == as_json.exit_code == 2
    assert plain.stdout == ""
    error = document(as_json)["error"]
    assert set(error) == ERROR_KEYS
    assert error["path"] == "missing.yaml" and error["hint"] == "check the path"
    assert error["exit_code"] == 2
    assert stderr_lines(as_json) == stderr_lines(plain) == [f"error: {error['message']}"]


def test_a_usage_error_is_json_too(invoke: Invoke) -> None:
    result = invoke("run", "--json", "--retries", "0")
    assert result.exit_code == 2
    error = document(result)["error"]
    assert error["field"] == "retries" and "0 is not in the range" in error["message"]
    assert error["hint"] == "see `replaycodegen run --help`"
    assert "Usage: replaycodegen run" in result.stderr  # click's own text stays on stderr


def test_a_failure_after_json_was_given_elsewhere_is_not_json(invoke: Invoke) -> None:
    assert invoke("behaviors", "--json").exit_code == 0
    later = invoke("show", "missing.yaml")  # the same process: nothing carries over
    assert later.stdout == "" and later.exit_code == 2


def test_lint_json_does_not_count_a_skipped_vcrpy_cassette(invoke: Invoke, sample: Path,
                                                           isolated: Path) -> None:
    (isolated / "http.yaml").write_text(
        "interactions:\n- request: {method: GET, uri: 'http://x'}\n"
        "  response: {status: {code: 200}}\nversion: 1\n")
    result = invoke("lint", "--json", str(sample), "http.yaml")
    assert result.exit_code == 0
    data = document(result)
    assert [f.get("skipped", False) for f in data["files"]] == [False, True]
    assert (data["checked"], data["clean"], data["unloadable"], data["errors"],
            data["skipped"]) == (1, 1, 0, 0, 1)
    assert data["files"][1]["error"] is None and "vcrpy" in data["files"][1]["reason"]
    assert data["errors"] == sum(f["error"] is not None for f in data["files"])
    text = invoke("lint", str(sample), "http.yaml").stdout
    assert "1 file checked: 1 clean, 0 findings, 1 skipped (not replaycodegen cassettes)" in text
