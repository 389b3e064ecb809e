"""A command that reads a file says "check the path" when it is not there (issue 15 item 12);
only recording paths advise recording it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, stderr_lines

MISSING = "error: missing.yaml: no such cassette file; fix: check the path"


@pytest.mark.parametrize("args", [
    ["show", "missing.yaml"],
    ["diff", "missing.yaml", "missing.yaml"],
    ["run", "--cassette", "missing.yaml"],
    ["lint", "missing.yaml"],
    ["status", "missing.yaml"],
    ["rehash", "missing.yaml"],
    ["scrub", "missing.yaml"],
    ["edit", "missing.yaml", "e1"],
    ["craft", "missing.yaml", "--entry", "e1", "--inject", "timeout"],
])
def test_read_only_commands_say_check_the_path(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert MISSING in stderr_lines(result)
    assert "record" not in result.stderr


def test_ls_of_a_missing_path(invoke: Invoke) -> None:
    result = invoke("ls", "nowhere")
    assert result.exit_code == 2
    assert "nowhere: no such file or folder; fix: check the path" in result.stderr


def test_the_closest_file_is_named(invoke: Invoke, sample: Path, isolated: Path) -> None:
    (isolated / "test_beam.codegen.yaml").write_text(sample.read_text())
    result = invoke("show", "test_beam.yaml")
    assert stderr_lines(result) == [
        "error: test_beam.yaml: no such cassette file; fix: check the path (did you mean "
        "test_beam.codegen.yaml?)"]
    typo = invoke("show", "sampel.yaml")
    assert "did you mean sample.yaml?" in typo.stderr


def test_a_missing_folder_is_named(invoke: Invoke) -> None:
    result = invoke("show", "tests/casettes/beam.yaml")
    assert stderr_lines(result) == [
        "error: tests/casettes/beam.yaml: no such cassette file; fix: check the path (there "
        "is no folder tests/casettes)"]


def test_recording_keeps_its_advice(invoke: Invoke) -> None:
    """`record --mode none` into a file that is not there is a miss: it says how to record."""
    result = invoke("record", "--cassette", "new.yaml", "--query", "q", "--mode", "none",
                    "--base-url", "http://127.0.0.1:9/v1", env={"OPENAI_API_KEY": "dummy"})
    assert result.exit_code == 1
    assert "no such cassette" in result.stderr and "record" in result.stderr.split("fix", 1)[1]
