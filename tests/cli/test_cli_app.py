"""The command group: help, version, lazy imports, one-line errors, --debug, colour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from replaycodegen.cli import app
from tests.cli.conftest import ROOT, Invoke, stderr_lines

COMMANDS = ["run", "record", "ls", "show", "diff", "behaviors", "new", "edit", "craft", "lint",
            "rehash", "prune", "scrub", "combine", "merge-driver", "status"]


def test_help_lists_every_command_with_a_line_each(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == COMMANDS
    assert "replaycodegen run" in result.output and "Exit codes" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(invoke: Invoke, command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert f"Usage: replaycodegen {command}" in result.output


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith("replaycodegen ")


def test_unknown_command_is_bad_usage(invoke: Invoke) -> None:
    result = invoke("replay")
    assert result.exit_code == 2
    assert "No such command 'replay'" in result.output


HELP_PROBE = """
import sys
from replaycodegen.cli import main
try:
    main(["--help"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in {"openai", "vcr", "httpx", "pydantic", "yaml", "pygments"}
               or m.startswith(("replaycodegen.executor", "replaycodegen.generation")))
print("HEAVY=" + ",".join(heavy))
"""


def test_help_in_a_fresh_interpreter_imports_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=60)
    assert "Commands:" in done.stdout
    assert "HEAVY=\n" in done.stdout, done.stdout.splitlines()[-1]


def test_module_entry_point_works() -> None:
    done = subprocess.run([sys.executable, "-m", "replaycodegen.cli", "behaviors", "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "success" in json.loads(done.stdout)


def test_bad_input_is_one_error_line_without_traceback(invoke: Invoke) -> None:
    result = invoke("show", "missing.yaml")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "error: missing.yaml: no such cassette file; fix: check the path"
    ]
    assert "Traceback" not in result.output


def test_debug_adds_the_traceback(invoke: Invoke) -> None:
    result = invoke("--debug", "show", "missing.yaml")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert stderr_lines(result)[-1].startswith("error: missing.yaml: no such cassette file")


def test_an_internal_error_is_one_line_too(invoke: Invoke, monkeypatch: pytest.MonkeyPatch,
                                           sample: Path) -> None:
    import replaycodegen.maintenance.diff as ops

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ops, "diff_cassettes", explode)
    result = invoke("diff", str(sample), str(sample))
    assert result.exit_code == 1
    assert stderr_lines(result) == [
        "error: internal error: RuntimeError: boom (re-run with --debug for the traceback, "
        "and please report it)"
    ]


def test_errors_map_to_exit_codes() -> None:
    from replaycodegen.errors import CassetteError, CassetteMiss

    assert app.translate(CassetteError("bad", path="x.yaml", line=3)).exit_code == 2
    assert app.translate(FileNotFoundError(2, "No such file", "x")).exit_code == 2
    miss = CassetteMiss("no entry", reason="no match", cassette_path="x.yaml")
    assert app.translate(miss).exit_code == 1


def test_colour_only_when_asked_or_on_a_terminal(invoke: Invoke, sample: Path) -> None:
    plain = invoke("show", str(sample), "e1")
    assert "\x1b[" not in plain.output  # not a terminal: no colour
    coloured = invoke("--color", "always", "show", str(sample), "e1")
    assert "\x1b[" in coloured.output


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from replaycodegen.cli.render import wants_color

    class Tty:
        def isatty(self) -> bool:
            return True

    assert wants_color("auto", Tty())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_color("auto", Tty())  # type: ignore[arg-type]
    assert wants_color("always", Tty())  # type: ignore[arg-type]


def test_code_is_highlighted_with_pygments_and_plain_without(
    invoke: Invoke, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pygments")
    highlighted = invoke("--color", "always", "show", str(sample), "e1")
    line = next(x for x in highlighted.output.splitlines() if "values" in x and "|" in x)
    assert line.count("\x1b[") > 2  # the code itself is coloured, not only the gutter
    monkeypatch.setitem(sys.modules, "pygments", None)  # as if not installed
    plain = invoke("--color", "always", "show", str(sample), "e1")
    line = next(x for x in plain.output.splitlines() if "values" in x and "|" in x)
    assert line.endswith("values = [40, 2]")
