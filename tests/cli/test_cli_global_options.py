"""``--debug`` and ``--color`` before or after the command name mean the same (issue 15
item 10): ``replaycodegen lint --debug x.yaml`` is ``replaycodegen --debug lint x.yaml``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from replaycodegen.cli import app
from tests.cli.conftest import ROOT, Invoke

RED = "\x1b[31m"


def test_debug_after_the_command_prints_the_traceback(invoke: Invoke) -> None:
    before = invoke("--debug", "show", "missing.yaml")
    after = invoke("show", "missing.yaml", "--debug")
    for result in (before, after):
        assert result.exit_code == 2
        assert "Traceback (most recent call last)" in result.stderr
        assert result.stderr.rstrip().endswith(
            "error: missing.yaml: no such cassette file; fix: check the path")
    plain = invoke("show", "missing.yaml")
    assert "Traceback" not in plain.stderr


def test_debug_anywhere_among_the_options(invoke: Invoke, isolated: Path) -> None:
    (isolated / "broken.yaml").write_text("version: 1\nentries: {e1: x}\n")
    result = invoke("lint", "--debug", "broken.yaml")
    assert result.exit_code == 2  # lint reports a bad file and goes on: no traceback needed
    crash = invoke("run", "--cassette", "broken.yaml", "--debug", "--retries", "1")
    assert crash.exit_code == 2 and "Traceback" in crash.stderr


def test_color_after_the_command(invoke: Invoke, sample: Path) -> None:
    colored = invoke("show", str(sample), "--color", "always")
    assert "\x1b[" in colored.stdout
    before = invoke("--color", "always", "show", str(sample))
    assert colored.stdout == before.stdout
    plain = invoke("--color", "always", "show", str(sample), "--color", "never")
    assert "\x1b[" not in plain.stdout  # the one given last, after the name, wins


def test_color_after_the_command_colours_errors_too(invoke: Invoke) -> None:
    result = invoke("show", "missing.yaml", "--color", "always")
    assert result.stderr.startswith(RED)


def test_a_bad_value_after_the_command_is_bad_usage(invoke: Invoke) -> None:
    result = invoke("ls", "--color", "sometimes")
    assert result.exit_code == 2
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in result.stderr


@pytest.mark.parametrize("name", sorted(app.COMMANDS))
def test_every_command_takes_them(invoke: Invoke, name: str) -> None:
    text = invoke(name, "--help").stdout
    assert "--debug" in text and "--color [auto|always|never]" in text


def test_in_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "replaycodegen.cli", "lint", "--debug",
                           str(tmp_path / "x.yaml"), "--color", "never"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'x.yaml'}: no such cassette file")
