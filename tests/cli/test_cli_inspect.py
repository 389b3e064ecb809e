"""Read-only commands: ``ls``, ``show``, ``diff``, ``behaviors``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from replaycodegen.cassette.behaviors import behavior_summaries
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.model import Entry, Pattern
from replaycodegen.cassette.writing.store import CassetteStore
from tests.cli.conftest import (
    DATA,
    FIXED_CODE,
    Invoke,
    request,
    sha256,
    stderr_lines,
    write_cassette,
)

# -- ls -----------------------------------------------------------------------------------


def test_ls_lists_counts_models_age_and_size(invoke: Invoke, sample: Path, isolated: Path
                                             ) -> None:
    (isolated / "sub").mkdir()
    result_new = invoke("new", "sub/hand.yaml", "--from-behavior", "error_aware")
    assert result_new.exit_code == 0
    result = invoke("ls", ".")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CASSETTE", "ENTRIES", "RECORDED", "HAND", "MODELS", "AGE",
                                "SIZE"]
    sample_row = next(line.split() for line in lines if line.startswith("sample.yaml"))
    assert sample_row[:5] == ["sample.yaml", "3", "3", "0", "test-model"]
    assert sample_row[5].endswith(("d", "y"))  # recorded 2026-01-02: the newest recording
    assert sample_row[6:] == [f"{sample.stat().st_size / 1024:.1f}", "KB"]
    hand_row = next(line.split() for line in lines if line.startswith("sub/hand.yaml"))
    assert hand_row[1:5] == ["5", "0", "5", "-"]


def test_ls_json_and_invalid_files(invoke: Invoke, sample: Path, isolated: Path) -> None:
    shutil.copyfile(DATA / "malformed" / "missing_version.yaml", isolated / "broken.yaml")
    result = invoke("ls", "--json")  # no ./cassettes here: the current folder
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    by_path = {Path(c["path"]).name: c for c in data["cassettes"]}
    assert by_path["sample.yaml"]["entries"] == 3
    assert by_path["sample.yaml"]["models"] == ["test-model"]
    assert by_path["sample.yaml"]["newest_recording"] == "2026-01-02T03:04:05Z"
    assert by_path["sample.yaml"]["size_bytes"] == sample.stat().st_size
    assert "missing version" in by_path["broken.yaml"]["error"]
    text = invoke("ls")
    assert "invalid broken.yaml:1: missing version" in text.stdout


def test_ls_defaults_to_the_cassettes_folder(invoke: Invoke, sample: Path, isolated: Path
                                             ) -> None:
    (isolated / "cassettes").mkdir()
    shutil.copyfile(sample, isolated / "cassettes" / "only.yaml")
    result = invoke("ls")
    assert "cassettes/only.yaml" in result.stdout and "sample.yaml" not in result.stdout


def test_ls_empty_and_missing(invoke: Invoke, isolated: Path) -> None:
    (isolated / "empty").mkdir()
    assert "no cassettes (*.yaml) under empty" in invoke("ls", "empty").stdout
    missing = invoke("ls", "nowhere")
    assert missing.exit_code == 2
    assert stderr_lines(missing) == [
        "error: nowhere: no such file or folder; fix: check the path (give a folder holding "
        "cassettes, or a cassette file)"
    ]


def test_ls_age_falls_back_to_the_file_time(invoke: Invoke, isolated: Path) -> None:
    invoke("new", "hand.yaml")
    old = 3 * 86400
    stat = (isolated / "hand.yaml").stat()
    os.utime(isolated / "hand.yaml", (stat.st_atime - old, stat.st_mtime - old))
    row = next(line.split() for line in invoke("ls").stdout.splitlines()
               if line.startswith("hand.yaml"))
    assert row[5] == "3d"


# -- show ---------------------------------------------------------------------------------


def test_show_prints_request_chain_key_and_code(invoke: Invoke, sample: Path) -> None:
    result = invoke("show", str(sample))
    assert result.exit_code == 0
    out = result.stdout
    assert "Sample recorded cassette for the CLI tests." in out
    assert "3 entries (3 recorded, 0 hand-authored)" in out
    assert "entry e3 (recorded, line" in out
    assert "attempt: 2" in out
    assert "1. [execution/NameError] NameError: name 'statistics' is not defined" in out
    key = load_cassette(sample).entries[2].key
    assert key is not None and f"key: {key[:12]} (ok)" in out
    assert "meta: model test-model; tokens 30; recorded_at 2026-01-02T03:04:05Z" in out
    assert "3 | results = {\"mean\": statistics.mean([1, 2])}" in out


def test_show_one_entry_and_json(invoke: Invoke, sample: Path) -> None:
    one = invoke("show", str(sample), "e1")
    assert "entry e1" in one.stdout and "entry e2" not in one.stdout
    data = json.loads(invoke("show", str(sample), "e3", "--json").stdout)
    assert data["match_on"][0] == "user_query"
    (entry,) = data["entries"]
    assert entry["id"] == "e3" and entry["kind"] == "recorded" and entry["attempt"] == 2
    assert entry["code"] == FIXED_CODE
    assert entry["error_chain"][0]["type"] == "NameError"
    assert entry["key_disagrees"] is False and isinstance(entry["line"], int)


def test_show_a_pattern_entry(invoke: Invoke, isolated: Path) -> None:
    invoke("new", "hand.yaml", "--from-behavior", "error_aware")
    result = invoke("show", "hand.yaml", "add-imports")
    assert "entry add-imports (hand-authored" in result.stdout
    assert "when the errors mention: 'NameError' or 'import'" in result.stdout


def test_show_unknown_entry_exits_2(invoke: Invoke, sample: Path) -> None:
    before = sha256(sample)
    result = invoke("show", str(sample), "nope")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        f"error: {sample}: no entry with id 'nope'; fix: use one of: e1, e2, e3"
    ]
    assert sha256(sample) == before


def test_show_warns_about_a_stale_key(invoke: Invoke, sample: Path) -> None:
    text = sample.read_text().replace("user_query: add numbers", "user_query: add more")
    sample.write_text(text)
    result = invoke("show", str(sample), "e1")
    assert result.exit_code == 0
    assert "stale: run `replaycodegen rehash`" in result.stdout
    assert "warning:" in result.stderr and "rehash" in result.stderr


# -- diff ---------------------------------------------------------------------------------


def test_diff_added_removed_changed(invoke: Invoke, sample: Path, isolated: Path) -> None:
    other = isolated / "other.yaml"
    shutil.copyfile(sample, other)
    store = CassetteStore(other)
    cassette = store.load()
    assert cassette is not None
    entries = [e for e in cassette.entries if e.id != "e1"]
    entries[1].code = FIXED_CODE + "print(results)\n"
    entries.append(Entry(id="p1", code="results = {}\n", when=Pattern(attempt=3)))
    cassette.replace_entries(entries)
    store.write(cassette)
    result = invoke("diff", str(sample), str(other))
    assert result.exit_code == 0
    out = result.stdout
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in out
    assert "- e1 (key " in out and ": removed" in out
    assert "+ p1 (pattern id p1): added" in out
    assert "~ e3 (key" in out and "changed (code)" in out
    assert "+print(results)" in out
    data = json.loads(invoke("diff", str(sample), str(other), "--json").stdout)
    assert [c["id"] for c in data["added"]] == ["p1"]
    assert [c["id"] for c in data["removed"]] == ["e1"]
    assert [c["fields"] for c in data["changed"]] == [["code"]]
    assert data["unchanged"] == 1
    assert invoke("diff", str(sample), str(other), "--exit-code").exit_code == 1
    assert invoke("diff", str(sample), str(sample), "--exit-code").exit_code == 0


def test_diff_when_match_on_differs(invoke: Invoke, sample: Path, isolated: Path) -> None:
    narrow = write_cassette(isolated / "narrow.yaml", [(request("add numbers"), [], "x = 1\n")])
    text = narrow.read_text().replace("- task_objective\n", "")
    narrow.write_text(text)
    invoke("rehash", str(narrow))
    result = invoke("diff", str(sample), str(narrow))
    assert "match_on differs" in result.stderr


def test_diff_of_a_bad_file_exits_2(invoke: Invoke, sample: Path) -> None:
    result = invoke("diff", str(sample), "missing.yaml")
    assert result.exit_code == 2


# -- behaviors ----------------------------------------------------------------------------


def test_behaviors_one_line_each(invoke: Invoke) -> None:
    result = invoke("behaviors")
    assert result.exit_code == 0
    summaries = behavior_summaries()
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(summaries)
    assert json.loads(invoke("behaviors", "--json").stdout) == summaries
