"""``replaycodegen record PATHS --stale`` / ``--entry``: exactly the flagged entries are
re-recorded, through the real generator; every other byte of the file stays."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.testing import FakeOpenAIServer, default_responder, fenced, last_user_message
from tests.cli.conftest import Invoke, stderr_lines
from tests.lifecycle.freshness.helpers import BEAMS, BROKEN, KEY, record_sample

COMMENTED_HEADER = "# Hand-written notes: keep me.\n"


def entry_spans(text: str) -> dict[str, str]:
    """Entry id -> its text (from its ``- id:`` line to the next one), plus ``<head>``."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"(?m)^  - id: (\S+)[^\n]*\n", text)]
    spans = {"<head>": text[: starts[0][0]]}
    for (start, entry_id), nxt in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        spans[entry_id] = text[start: nxt[0]]
    return spans


def with_comments(path: Path) -> str:
    """Add comments (header, between entries, inside an entry) as a person would."""
    text = COMMENTED_HEADER + path.read_text(encoding="utf-8")
    text = text.replace("  - id: e3\n", "  # vacuum and energy readings follow\n  - id: e3\n")
    text = text.replace("  - id: e4\n", "  - id: e4  # the pressure one\n")
    path.write_text(text, encoding="utf-8")
    return text


@pytest.fixture
def sample(invoke: Invoke, server: FakeOpenAIServer, isolated: Path) -> Path:
    return record_sample(invoke, server, isolated)


def rerecord(invoke: Invoke, server: FakeOpenAIServer, *args: str) -> Any:
    return invoke("record", *args, "--base-url", server.base_url, "--model", "fake-model",
                  env={"OPENAI_API_KEY": KEY})


def test_stale_rerecords_exactly_the_flagged_entries_and_no_other_byte_changes(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path
) -> None:
    before = with_comments(sample)
    server.reset()
    result = rerecord(invoke, server, "sample.yaml", "--stale", "--prompt-builder", BEAMS)
    assert result.exit_code == 0, result.output
    # One live call per flagged entry, no more: e1 (beam current, attempt 1) now gets the
    # default answer, which succeeds, so its old retry e2 is no longer reached; e3 (beam
    # energy) is re-recorded; e4 (vacuum) is not touched.
    asked = [last_user_message(body) for body in server.requests]
    assert len(asked) == 2
    assert all("Be brief." in prompt for prompt in asked)
    after = sample.read_text(encoding="utf-8")
    old, new = entry_spans(before), entry_spans(after)
    assert list(new) == list(old)  # same entries, same order
    assert new["<head>"] == old["<head>"] and after.startswith(COMMENTED_HEADER)
    assert new["e2"] == old["e2"] and new["e4"] == old["e4"]  # byte for byte, comments too
    assert "  # vacuum and energy readings follow\n" in after
    assert new["e1"] != old["e1"] and new["e3"] != old["e3"]
    assert "prompt_version: beams-2" in new["e1"] and "prompt_version: beams-2" in new["e3"]

    out = result.stdout
    assert "sample.yaml: re-recording 3 entries (2 requests)" in out
    assert "  e1: code changed (request 'beam current', attempt 1)" in out
    assert "-results = {'value': undefined_name}" in out  # the short diff
    assert "  e2: no longer reached (so not re-recorded) (request 'beam current', attempt 2)" \
        in out
    assert "  e3: unchanged (request 'beam energy', attempt 1)" in out
    assert "re-recorded: 1 code changed, 1 unchanged, 0 new, 1 no longer reached" in out

    status = invoke("status", "sample.yaml", "--prompt-builder", BEAMS, "--model", "fake-model")
    assert "e1: fresh" in status.stdout and "e3: fresh" in status.stdout
    assert "e2: stale" in status.stdout  # never reached again, so still stale


def test_new_attempts_are_recorded_and_the_summary_is_markdown(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path, isolated: Path
) -> None:
    server.reset()

    def answer(body: dict[str, Any]) -> str:
        # 'beam current' fails first again (so its retry e2 is reached); 'beam energy' now
        # fails first too, so its retry is a new entry. Retries get the fix.
        prompt = last_user_message(body)
        return fenced(BROKEN) if "NameError" not in prompt else default_responder(body)

    server.set_responder(answer)
    result = rerecord(invoke, server, "sample.yaml", "--stale", "--prompt-builder", BEAMS,
                      "--summary-md", "summary.md")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "  e1: unchanged" in out and "  e2: unchanged" in out
    assert "  e3: code changed" in out
    assert "  e5: new (request 'beam energy', attempt 2)" in out
    assert [e.id for e in load_cassette(sample).entries] == ["e1", "e2", "e3", "e4", "e5"]
    markdown = (isolated / "summary.md").read_text(encoding="utf-8")
    assert markdown.startswith("### replaycodegen re-recorded: 4 entries, 1 with changed code\n")
    assert "| `e3` | code changed | request 'beam energy', attempt 1 |" in markdown
    assert "| `e5` | new | request 'beam energy', attempt 2 |" in markdown
    assert "<details><summary><code>e3</code>: code diff</summary>" in markdown
    assert "```diff\n--- e3 (before)\n+++ e3 (after)\n" in markdown


def test_entry_rerecords_only_the_named_entry(invoke: Invoke, server: FakeOpenAIServer,
                                              sample: Path) -> None:
    before = entry_spans(sample.read_text(encoding="utf-8"))
    server.reset()
    server.set_responder(lambda body: fenced('results = {"value": 7}'))
    result = rerecord(invoke, server, "sample.yaml", "--entry", "e4")
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 1
    after = entry_spans(sample.read_text(encoding="utf-8"))
    assert [k for k in after if after[k] != before[k]] == ["e4"]
    assert "  e4: code changed (request 'vacuum pressure', attempt 1)" in result.stdout


def test_entry_refuses_unknown_and_kept_entries(invoke: Invoke, server: FakeOpenAIServer,
                                                sample: Path) -> None:
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    unknown = rerecord(invoke, server, "sample.yaml", "--entry", "e9")
    assert unknown.exit_code == 2
    assert stderr_lines(unknown) == [
        "error: no entry e9 in sample.yaml; fix: `replaycodegen show PATH` lists the ids"]
    text = sample.read_text(encoding="utf-8")
    sample.write_text(text.replace("    origin: recorded\n", "    origin: hand\n", 1),
                      encoding="utf-8")
    kept = rerecord(invoke, server, "sample.yaml", "--entry", "e1")
    assert kept.exit_code == 2
    assert "entry 'e1' is hand: re-recording never replaces crafted or hand entries" in (
        kept.stderr)
    assert len(server.requests) == 4  # only the recording of the sample
    sample.write_text(text, encoding="utf-8")
    assert hashlib.sha256(sample.read_bytes()).hexdigest() == digest


def test_a_dry_run_lists_what_would_be_rerecorded_and_touches_nothing(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path, isolated: Path
) -> None:
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    server.reset()
    result = invoke("record", "sample.yaml", "--stale", "--prompt-builder", BEAMS, "--model",
                    "fake-model", "--dry-run", "--summary-md", "plan.md")  # and no key
    assert result.exit_code == 0, result.output
    assert "sample.yaml: would re-record 3 entries (2 requests)" in result.stdout
    assert "  e3: prompt changed: " in result.stdout
    assert "dry run: nothing was called or written" in result.stdout
    assert server.requests == []
    assert hashlib.sha256(sample.read_bytes()).hexdigest() == digest
    assert "| `e3` | prompt changed: " in (isolated / "plan.md").read_text(encoding="utf-8")


def test_nothing_stale_needs_no_key_and_no_call(invoke: Invoke, server: FakeOpenAIServer,
                                                sample: Path) -> None:
    server.reset()
    result = invoke("record", "sample.yaml", "--stale", "--model", "fake-model")
    assert result.exit_code == 0, result.output
    assert "sample.yaml: nothing to re-record (4 entries, none stale)" in result.stdout
    assert server.requests == []


def test_mixing_scoped_and_new_requests_is_bad_usage(invoke: Invoke, sample: Path) -> None:
    both = invoke("record", "sample.yaml", "--stale", "--query", "q")
    assert both.exit_code == 2 and "give PATHS, not --query or --requests" in both.stderr
    paths = invoke("record", "sample.yaml", "--query", "q")
    assert paths.exit_code == 2 and "PATHS go with --stale or --entry" in paths.stderr


def test_a_flagged_retry_is_reached_again_through_its_replayed_first_attempt(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path
) -> None:
    server.reset()
    calls: list[str] = []

    def answer(body: dict[str, Any]) -> str:
        calls.append(last_user_message(body))
        return default_responder(body)

    server.set_responder(answer)
    result = rerecord(invoke, server, "sample.yaml", "--entry", "e2")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1 and "NameError" in calls[0]  # e1 replayed, failed, e2 re-recorded
    assert "  e2: unchanged (request 'beam current', attempt 2)" in result.stdout
