"""``replaycodegen status`` (and ``lint``): the blast radius of a change, with no live call."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.lifecycle.freshness.expiry import parse_max_age
from replaycodegen.lifecycle.freshness.status import FreshnessPolicy, check_cassette
from replaycodegen.testing import FakeOpenAIServer
from tests.cli.conftest import DEMO, Invoke, stderr_lines
from tests.lifecycle.freshness.builders import BriefAboutBeams
from tests.lifecycle.freshness.helpers import BEAMS, ERRORS, record_sample


def states(result_stdout: str) -> dict[str, str]:
    """``{entry id: the rest of its status line}`` from status output."""
    out = {}
    for line in result_stdout.splitlines():
        parts = line.split(": ", 2)
        if len(parts) >= 2 and parts[0].startswith(("sample.yaml", "demo.yaml")):
            out[parts[1]] = ": ".join(parts[2:]) if len(parts) > 2 else ""
    return out


@pytest.fixture
def sample(invoke: Invoke, server: FakeOpenAIServer, isolated: Path) -> Path:
    return record_sample(invoke, server, isolated)


def test_the_recording_builder_leaves_every_entry_fresh(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path
) -> None:
    calls = len(server.requests)
    result = invoke("status", "sample.yaml", "--model", "fake-model")
    assert result.exit_code == 0, result.output
    assert list(states(result.stdout).values()) == ["fresh"] * 4
    assert "4 entries: 4 fresh, 0 stale, 0 kept" in result.stdout
    assert len(server.requests) == calls  # no live call, and no key in the environment


def test_a_prompt_builder_change_flags_exactly_the_entries_whose_prompts_change(
    invoke: Invoke, server: FakeOpenAIServer, sample: Path
) -> None:
    calls = len(server.requests)
    result = invoke("status", "sample.yaml", "--model", "fake-model", "--prompt-builder", BEAMS)
    assert result.exit_code == 1
    found = states(result.stdout)
    # Both attempts of 'beam current' (the second one has an error chain) and 'beam energy'.
    assert [i for i, text in found.items() if text.startswith("stale")] == ["e1", "e2", "e3"]
    assert found["e4"] == "fresh"
    assert "prompt changed: the prompt builder now renders a different prompt for this request " \
           f"(prompt version {PromptBuilder.version} -> beams-2" in found["e1"]
    assert "re-record the stale ones: replaycodegen record sample.yaml --stale" in result.stdout
    assert len(server.requests) == calls


def test_an_error_rendering_change_flags_only_the_entries_with_an_error_chain(
    invoke: Invoke, sample: Path
) -> None:
    result = invoke("status", "sample.yaml", "--model", "fake-model", "--prompt-builder", ERRORS)
    assert result.exit_code == 1
    found = states(result.stdout)
    assert [i for i, text in found.items() if text.startswith("stale")] == ["e2"]
    entry = load_cassette("sample.yaml").entries[1]
    # The live prompt held the failed code and traceback, which the cassette does not store:
    # the recorder kept the digest of the prompt rendered from what is stored.
    assert entry.meta["prompt_check_sha256"] != entry.meta["prompt_sha256"]


def test_json_lists_every_entry_with_its_reasons(invoke: Invoke, sample: Path) -> None:
    result = invoke("status", "sample.yaml", "--json", "--prompt-builder", BEAMS,
                    "--model", "other-model")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    entries = data["cassettes"][0]["entries"]
    assert [e["state"] for e in entries] == ["stale"] * 4
    assert [r["code"] for r in entries[0]["reasons"]] == ["prompt-changed", "model-changed"]
    assert [r["code"] for r in entries[3]["reasons"]] == ["model-changed"]
    assert data["policy"] == {"prompt_builder": "BriefAboutBeams", "prompt_version": "beams-2",
                              "model": "other-model", "max_age": None}
    assert data["stale"] == 4 and data["unloadable"] == 0


def test_a_dated_snapshot_of_the_configured_model_is_the_same_model(
    invoke: Invoke, isolated: Path
) -> None:
    with FakeOpenAIServer(reported_model="fake-model-2024-07-18") as dated:
        record_sample(invoke, dated, isolated)
    assert invoke("status", "sample.yaml", "--model", "fake-model").exit_code == 0
    changed = invoke("status", "sample.yaml", "--model", "fake-model-mini")
    assert changed.exit_code == 1
    assert "model changed: recorded with 'fake-model', the configured model is " \
           "'fake-model-mini'" in changed.stdout  # the model asked for, not the snapshot


def _age(path: Path, entry_id: str, recorded_at: str) -> None:
    text = path.read_text(encoding="utf-8")
    entry = next(e for e in load_cassette(path).entries if e.id == entry_id)
    old = f"recorded_at: '{entry.meta['recorded_at']}'"
    start = text.index(f"- id: {entry_id}\n")
    at = text.index(old, start)
    path.write_text(text[:at] + f"recorded_at: '{recorded_at}'" + text[at + len(old):],
                    encoding="utf-8")


def test_max_age_flags_old_recordings_from_the_option_or_the_ini_key(
    invoke: Invoke, sample: Path, isolated: Path
) -> None:
    _age(sample, "e3", "2020-01-01T00:00:00Z")
    assert invoke("status", "sample.yaml", "--model", "fake-model").exit_code == 0
    result = invoke("status", "sample.yaml", "--model", "fake-model", "--max-age", "90d")
    assert result.exit_code == 1
    found = states(result.stdout)
    assert found["e3"].startswith("stale: expired: recorded 2020-01-01T00:00:00Z, ")
    assert found["e3"].endswith("days ago (max age 90d)")
    assert [i for i, t in found.items() if t != "fresh"] == ["e3"]

    (isolated / "pytest.ini").write_text("[pytest]\ncodegen_max_age = 12w\ncodegen_model = "
                                         "fake-model\n", encoding="utf-8")
    from_ini = invoke("status", "sample.yaml")
    assert from_ini.exit_code == 1
    assert "(max age 12w)" in states(from_ini.stdout)["e3"]

    lint = invoke("lint", "sample.yaml")  # lint reads the same ini key
    assert lint.exit_code == 1
    assert "expired: entry 'e3': recorded 2020-01-01T00:00:00Z" in lint.stdout
    assert "fix: re-record it: `replaycodegen record sample.yaml --stale --max-age 12w`" \
        in lint.stdout
    assert invoke("lint", "sample.yaml", "--max-age", "100000d").exit_code == 0


def test_a_hand_edited_recording_is_reported_until_marked_hand(
    invoke: Invoke, sample: Path
) -> None:
    text = sample.read_text(encoding="utf-8")
    sample.write_text(text.replace("results = {\"value\": 42}", "results = {\"value\": 43}", 1),
                      encoding="utf-8")
    result = invoke("status", "sample.yaml", "--model", "fake-model")
    assert result.exit_code == 1
    edited = [i for i, t in states(result.stdout).items() if t != "fresh"]
    assert len(edited) == 1
    assert states(result.stdout)[edited[0]] == (
        "stale: hand-edited: the code is not what was recorded; mark `origin: hand` to keep it")
    lint = invoke("lint", "sample.yaml")
    assert lint.exit_code == 1
    assert f"hand-edited: entry '{edited[0]}': the code is not what was recorded" in lint.stdout

    marked = sample.read_text(encoding="utf-8")
    start = marked.index(f"- id: {edited[0]}\n")
    old = "    origin: recorded\n"
    at = marked.index(old, start)
    sample.write_text(marked[:at] + "    origin: hand\n" + marked[at + len(old):],
                      encoding="utf-8")
    after = invoke("status", "sample.yaml", "--model", "fake-model")
    assert after.exit_code == 0
    assert states(after.stdout)[edited[0]] == "kept: hand entry, never re-recorded"
    assert invoke("lint", "sample.yaml").exit_code == 0


def test_entries_recorded_before_prompt_check_digests_say_what_was_not_checked(
    invoke: Invoke, isolated: Path
) -> None:
    demo = isolated / "demo.yaml"
    demo.write_bytes(DEMO.read_bytes())
    result = invoke("status", "demo.yaml", "--model", "fake-scripted-model")
    found = states(result.stdout)
    assert found["e1"] == "fresh"  # attempt 1, all prompt fields stored: checked exactly
    assert found["e2"] == ("fresh: (prompt not checked: the error chain's code and tracebacks "
                           "are not stored, and the entry was recorded before replaycodegen "
                           "stored meta.prompt_check_sha256)")
    assert result.exit_code == 0


def test_bad_settings_and_bad_files_are_one_line_errors(invoke: Invoke, sample: Path,
                                                         isolated: Path) -> None:
    missing = invoke("status", "sample.yaml", "--prompt-builder", "no_such_module:Builder")
    assert missing.exit_code == 2
    assert stderr_lines(missing) == [
        "error: --prompt-builder: cannot import 'no_such_module' (ModuleNotFoundError: No "
        "module named 'no_such_module'); check the module name and that it is importable "
        "from here"]
    wrong = invoke("status", "sample.yaml", "--prompt-builder",
                   "tests.lifecycle.freshness.builders:NOT_A_BUILDER")
    assert wrong.exit_code == 2 and "is a int, not a PromptBuilder" in wrong.stderr
    age = invoke("status", "sample.yaml", "--max-age", "soon")
    assert age.exit_code == 2
    assert "--max-age: invalid max age 'soon': use a number and a unit, e.g. 90d" in age.stderr
    (isolated / "pytest.ini").write_text("[pytest]\ncodegen_max_age = forever\n",
                                         encoding="utf-8")
    ini = invoke("status", "sample.yaml")
    assert ini.exit_code == 2 and f"codegen_max_age in {isolated / 'pytest.ini'}" in ini.stderr

    (isolated / "pytest.ini").unlink()
    (isolated / "broken.yaml").write_text("version: 1\nentries: [\n", encoding="utf-8")
    both = invoke("status", "broken.yaml", "sample.yaml", "--model", "fake-model")
    assert both.exit_code == 2  # the bad file is reported, the good one still checked
    assert "broken.yaml" in both.stderr and "4 entries: 4 fresh" in both.stdout


def test_library_check_with_a_fixed_clock(sample: Path) -> None:
    cassette = load_cassette(sample)
    stamps = [e.meta["recorded_at"] for e in cassette.entries]
    recorded = _dt.datetime.fromisoformat(stamps[0].replace("Z", "+00:00"))
    policy = FreshnessPolicy(prompt_builder=PromptBuilder(), model="fake-model",
                             max_age=parse_max_age("1w3d"), max_age_text="1w3d",
                             now=recorded + _dt.timedelta(days=11))
    assert [s.codes for s in check_cassette(cassette, policy).entries] == [["expired"]] * 4
    policy = FreshnessPolicy(prompt_builder=BriefAboutBeams(), model="fake-model",
                             max_age=parse_max_age("1w3d"), now=recorded)
    assert [s.state for s in check_cassette(cassette, policy).entries] == [
        "stale", "stale", "stale", "fresh"]


@pytest.mark.parametrize(("text", "seconds"), [("90d", 90 * 86400), ("36h", 36 * 3600),
                                                ("1w3d", 10 * 86400), ("45m", 2700),
                                                ("7", 7 * 86400)])
def test_max_age_durations(text: str, seconds: float) -> None:
    assert parse_max_age(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0d", "d", "3x", "1d-2h"])
def test_bad_max_age_durations(text: str) -> None:
    with pytest.raises(ValueError, match="max age"):
        parse_max_age(text)


def test_kept_entries_are_listed_as_kept(invoke: Invoke, sample: Path) -> None:
    store = CassetteStore(sample)
    cassette = store.load()
    assert cassette is not None
    cassette.entries[3].origin = "crafted"
    cassette.entries[3].derived_from = "e3"
    store.write(cassette)
    store.close()
    result = invoke("status", "sample.yaml", "--model", "other")
    assert states(result.stdout)["e4"] == "kept: crafted entry, never re-recorded (derived from e3)"
    assert "3 stale, 1 kept" in result.stdout
