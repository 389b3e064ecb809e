"""What a person at a terminal, and a pipe, see from ``run`` (issue 15 item 14 and EPIPE):
a spinner while a long attempt runs, on a terminal only; nothing extra when piped; a reader
that goes away (``run | head``) ends the command quietly. Real processes, a real pty."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from replaycodegen.cli.spinner import Spinner
from tests.cli.conftest import ROOT

CLI = [sys.executable, "-m", "replaycodegen.cli"]
READ_LIMIT_SECONDS = 120
EXIT_BROKEN_PIPE = 141


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "CI", "TERM"}}
    env.update(TERM="xterm", PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return env


@pytest.fixture
def slow(tmp_path: Path) -> Path:
    """A cassette whose code runs until the timeout (one second) kills it."""
    code = tmp_path / "slow.py"
    code.write_text("import time\ntime.sleep(600)\nresults = {'value': 1}\n")
    cassette = tmp_path / "slow.yaml"
    subprocess.run([*CLI, "new", str(cassette), "--code", str(code)], check=True, cwd=ROOT,
                   env=environment(tmp_path), capture_output=True, timeout=60)
    return cassette


def run_slow(cassette: Path) -> list[str]:
    return [*CLI, "run", "--cassette", str(cassette), "--timeout", "1.5", "--retries", "1",
            "--isolation", "process"]


def in_a_pty(args: list[str], tmp_path: Path) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on one pseudo-terminal; all it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower,
                               cwd=tmp_path, env=environment(tmp_path), close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], READ_LIMIT_SECONDS)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal (EIO on Linux)
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        code = process.wait(timeout=READ_LIMIT_SECONDS)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_long_attempt_shows_a_spinner_on_a_terminal(slow: Path, tmp_path: Path) -> None:
    code, shown = in_a_pty(run_slow(slow), tmp_path)
    assert code == 1
    assert "attempt 1 running for " in shown
    assert "(killed at 1.5 s; --timeout S)" in shown
    before_failure = shown.split("FAILED", 1)[0]
    assert before_failure.rstrip("\x1b[0123456789;m").endswith("\r")  # erased first
    assert "give each attempt more time with --timeout S (now 1.5 s)" in shown


def test_piped_there_is_no_spinner(slow: Path, tmp_path: Path) -> None:
    done = subprocess.run(run_slow(slow), capture_output=True, text=True, cwd=tmp_path,
                          env=environment(tmp_path), timeout=READ_LIMIT_SECONDS, check=False)
    assert done.returncode == 1
    assert "running for" not in done.stdout + done.stderr
    assert "\r" not in done.stdout + done.stderr
    assert "TimeoutError" in done.stdout


def closed_pipe_run(args: list[str], tmp_path: Path, *, after: str | None = None
                    ) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with stdout into a pipe whose reader goes away: at once, or after the
    line containing ``after`` (what ``| head`` does)."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(args, stdout=write_end, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path, env=environment(tmp_path))
    os.close(write_end)
    if after is not None:
        with os.fdopen(read_end, "r", closefd=False) as reader:
            for line in reader:
                if after in line:
                    break
    os.close(read_end)
    _, err = process.communicate(timeout=READ_LIMIT_SECONDS)
    return subprocess.CompletedProcess(args, process.returncode, "", err)


@pytest.mark.parametrize("args", [
    ["run"], ["behaviors", "--json"], ["show", str(ROOT / "cassettes" / "demo" /
                                                 "beam_statistics.yaml")],
])
def test_a_closed_pipe_ends_quietly(args: list[str], tmp_path: Path) -> None:
    done = closed_pipe_run([*CLI, *args], tmp_path)
    assert done.returncode == EXIT_BROKEN_PIPE
    assert done.stderr == ""


def test_a_pipe_closed_during_the_run_ends_quietly(slow: Path, tmp_path: Path) -> None:
    """`run | head`: the reader leaves while attempt 1 runs; the next line is printed when
    attempt 2 starts, from inside the service loop."""
    args = [*run_slow(slow)]
    args[args.index("--retries") + 1] = "2"
    done = closed_pipe_run(args, tmp_path, after="--- attempt 1")
    assert done.returncode == EXIT_BROKEN_PIPE
    assert "Traceback" not in done.stderr and "run failed" not in done.stderr
    assert "error" not in done.stderr.lower()


# -- the spinner itself ----------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_spinner_draws_pauses_and_erases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    stream = FakeTerminal()
    spinner = Spinner(stream, delay=0, interval=0.01)
    drawn = threading.Event()
    spinner.start(lambda seconds: (drawn.set(), "working")[1])
    assert drawn.wait(READ_LIMIT_SECONDS)
    with spinner.paused():
        stream.write("a line\n")
    spinner.stop()
    text = stream.getvalue()
    assert "| working" in text
    assert "\r" + " " * len("| working") + "\ra line\n" in text  # erased, then the line
    assert visible_last_line(text) == ""  # nothing left on the terminal after stop()
    assert not spinner.running


def visible_last_line(text: str) -> str:
    """What a terminal shows on the last line, each ``\r`` writing over from column 0."""
    shown: list[str] = []
    for segment in text.rsplit("\n", 1)[-1].split("\r"):
        shown[:len(segment)] = segment
    return "".join(shown).strip()


def test_no_spinner_off_a_terminal_or_on_a_dumb_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Spinner(io.StringIO()).enabled
    monkeypatch.setenv("TERM", "dumb")
    assert not Spinner(FakeTerminal()).enabled
    quiet = Spinner(io.StringIO(), delay=0)
    quiet.start(lambda seconds: "never")
    quiet.stop()
    assert not quiet.running
