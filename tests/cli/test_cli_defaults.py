"""Three entry points, three default record modes, one story (issue 15 item 6): the code's
defaults are what the README, docs/recording.md and each ``--help`` say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from replaycodegen.cli.record_cmd import record
from replaycodegen.generation.record_mode import RecordMode, default_record_mode
from replaycodegen.pytest_plugin._settings import DEFAULT_RECORD_MODE
from tests.cli.conftest import ROOT, Invoke

README = (ROOT / "README.md").read_text(encoding="utf-8")
RECORDING = (ROOT / "docs" / "recording.md").read_text(encoding="utf-8")


def cli_default() -> str:
    (mode,) = [p for p in record.params if p.name == "mode"]
    return str(mode.default)


def test_the_defaults_are_as_documented() -> None:
    assert default_record_mode({}) is RecordMode.ONCE
    assert default_record_mode({"CI": "true"}) is RecordMode.NONE
    assert DEFAULT_RECORD_MODE == "none"
    assert cli_default() == "new_episodes"


def test_recording_md_has_one_table_of_the_three() -> None:
    section = RECORDING.split("### The default mode of each entry point", 1)[1]
    table = section.split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows[0].startswith("| entry point | default | why |")
    entry_points = {row.split("|")[1].strip(): row.split("|")[2].strip() for row in rows[2:]}
    assert entry_points == {
        "`RecordingCodeGenerator(...)` (library)": "`once`; `none` when `CI` is set",
        "pytest plugin (`codegen` fixture)": f"`{DEFAULT_RECORD_MODE}`, with or without `CI`",
        "`replaycodegen record`": f"`{cli_default()}`",
    }


def test_the_readme_says_it_in_one_sentence_per_entry_point() -> None:
    sentences = [line for line in README.splitlines() if line.startswith("- ")]
    library = [s for s in sentences if s.startswith("- `RecordingCodeGenerator` records")]
    plugin = [s for s in sentences if s.startswith("- The pytest plugin replays")]
    cli = [s for s in sentences if s.startswith("- `replaycodegen record` records")]
    assert len(library) == len(plugin) == len(cli) == 1
    assert "`once`" in library[0] and "`none` when `CI` is set" in library[0]
    assert f"`{DEFAULT_RECORD_MODE}`" in plugin[0]
    assert f"`{cli_default()}`" in cli[0]
    assert not re.search(r"the default is `once`", README)  # the old sentence that mixed them


def test_record_help_states_its_default(invoke: Invoke) -> None:
    text = " ".join(invoke("record", "--help").stdout.split())
    assert "[default: new_episodes]" in text
    assert "the library's default is once, the pytest plugin's none" in text


def test_the_plugin_option_help_states_its_default(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert re.search(r"--codegen-record-mode=\{[a-z_,]+\} when to call the real model: "
                     r"none \(replay only, the default\)", text), text[:2000]
