"""``replaycodegen run``: the service loop, offline, from a cassette."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import replaycodegen.guard
from replaycodegen.cli import context
from tests.cli.conftest import Invoke, stderr_lines


@pytest.fixture
def guard_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record each entry into the offline guard (the real guard still runs)."""
    calls: list[tuple[Any, ...]] = []
    real = replaycodegen.guard.block_live_llm_calls

    @contextlib.contextmanager
    def spy(*args: Any, **kwargs: Any) -> Iterator[Any]:
        calls.append(args)
        with real(*args, **kwargs) as guard:
            yield guard

    monkeypatch.setattr(replaycodegen.guard, "block_live_llm_calls", spy)
    return calls


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt from this process fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_no_arguments_replays_the_demo_offline_inside_the_guard(
    invoke: Invoke, guard_calls: list[tuple[Any, ...]], no_network: None
) -> None:
    result = invoke("run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "the shipped demo" in out and "FakeOpenAIServer" in out  # its description says how
    assert "--- attempt 1: entry e1 ---" in out
    assert "FAILED attempt 1 failed (execution): NameError: name 'statistics' is not defined" in out
    assert "--- attempt 2: entry e2 ---" in out
    assert "OK attempt 2 succeeded after 1 failed attempt" in out
    assert '"mean_current": 500.0' in out
    assert guard_calls and guard_calls[0][1] == "none"
    assert str(guard_calls[0][0]).endswith("beam_statistics.yaml")


def test_a_behaviour_runs(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "success")
    assert result.exit_code == 0
    assert "entry success" in result.stdout and '"value": 42' in result.stdout


def test_a_failed_run_exits_1_with_each_attempt_shown(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "runtime_error", "--retries", "2")
    assert result.exit_code == 1
    assert result.stdout.count("ZeroDivisionError: division by zero") >= 2
    assert "--- attempt 2: entry runtime-error, repeated ---" in result.stdout
    assert stderr_lines(result) == [
        "error: the run failed: all 2 attempts failed; the last (execution): "
        "ZeroDivisionError: division by zero; fix: allow more attempts with --retries N, or "
        "correct the cassette's code (`replaycodegen show`, `replaycodegen edit`)"
    ]


def test_analysis_findings_are_shown(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "security_risk", "--retries", "1")
    assert result.exit_code == 1
    assert "failed (analysis): SecurityRisk" in result.stdout
    assert "finding: line 5: runs processes via os.system [high risk]" in result.stdout


def test_a_write_needs_approval_and_off_a_terminal_exits_1(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "channel_write")
    assert result.exit_code == 1
    assert "APPROVAL NEEDED before attempt 1 runs:" in result.stdout
    assert "write_channel('MAGNET:QF1:SETPOINT')" in result.stdout
    assert "OK attempt" not in result.stdout
    assert stderr_lines(result)[0].startswith("error: needs approval: attempt 1 writes to the "
                                              "control system")
    assert "--approve" in result.stderr


def test_approve_runs_the_write(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "channel_write", "--approve")
    assert result.exit_code == 0
    assert "control-system writes:" in result.stdout
    assert "MAGNET:QF1:SETPOINT: 120.0 -> 121.5" in result.stdout


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1)])
def test_on_a_terminal_the_user_is_asked(invoke: Invoke, monkeypatch: pytest.MonkeyPatch,
                                         answer: str, code: int) -> None:
    monkeypatch.setattr(context, "stdin_is_interactive", lambda: True)
    result = invoke("run", "--behavior", "channel_write", input=answer)
    assert "Approve and run this code?" in result.output
    assert result.exit_code == code
    if code:
        assert "error: refused: you refused the code of attempt 1 at the prompt" in result.stderr


def test_a_cassette_replays_its_first_request(invoke: Invoke, sample: Path) -> None:
    result = invoke("run", "--cassette", str(sample))
    assert result.exit_code == 0
    assert "query:     add numbers" in result.stdout
    assert '"value": 42' in result.stdout


def test_entry_picks_the_request(invoke: Invoke, sample: Path) -> None:
    result = invoke("run", "--cassette", str(sample), "--entry", "e2")
    assert result.exit_code == 0
    assert "attempt 1: entry e2" in result.stdout and "attempt 2: entry e3" in result.stdout


def test_a_miss_is_explained_and_exits_1(invoke: Invoke, sample: Path) -> None:
    result = invoke("run", "--cassette", str(sample), "--query", "something else")
    assert result.exit_code == 1
    assert "no cassette entry for this request (no match)" in result.stderr
    assert "closest entries:" in result.stderr and "how to fix:" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--behavior", "success", "--cassette", "x.yaml"], "give --behavior or --cassette"),
        (["--behavior", "nope"], "unknown behaviour 'nope'"),
        (["--cassette", "missing.yaml"], "missing.yaml: no such cassette file"),
        (["--behavior", "success", "--entry", "e1"], "--entry needs --cassette"),
        (["--retries", "0"], "0 is not in the range"),
    ],
)
def test_bad_usage_exits_2(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("run", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_unknown_entry_exits_2(invoke: Invoke, sample: Path) -> None:
    result = invoke("run", "--cassette", str(sample), "--entry", "e9")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        f"error: {sample}: no entry with id 'e9'; fix: use one of: e1, e2, e3"
    ]


def test_execution_root_keeps_the_attempt_folders(invoke: Invoke, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    result = invoke("run", "--behavior", "success", "--execution-root", str(root))
    assert result.exit_code == 0
    folders = list(root.iterdir())
    assert len(folders) == 1 and (folders[0] / "generated_code.py").exists()


def test_without_vcrpy_the_run_still_works_and_says_so(invoke: Invoke,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import replaycodegen.guard

    monkeypatch.setattr(replaycodegen.guard, "_VCR_INSTALLED", False)
    result = invoke("run", "--behavior", "success")
    assert result.exit_code == 0
    assert "(vcrpy is not installed: live calls are blocked at the socket level only)" \
        in result.stdout


# -- approvals and timeouts say what happened (issue 15 items 14, 15) ----------------------


def test_approve_says_it_approved(invoke: Invoke) -> None:
    result = invoke("run", "--behavior", "channel_write", "--approve")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    approved = lines.index("APPROVED with --approve: attempt 1 runs, control-system writes "
                           "included")
    assert lines[approved - 2] == "APPROVAL NEEDED before attempt 1 runs:"
    (ok,) = [n for n, line in enumerate(lines) if line.startswith("OK attempt 1 succeeded")]
    assert approved < ok


def test_a_yes_at_the_prompt_says_so(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "stdin_is_interactive", lambda: True)
    result = invoke("run", "--behavior", "channel_write", input="y\n")
    assert result.exit_code == 0
    assert "APPROVED at the prompt: attempt 1 runs" in result.stdout


def test_a_refusal_says_the_code_was_refused(invoke: Invoke,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "stdin_is_interactive", lambda: True)
    result = invoke("run", "--behavior", "channel_write", input="n\n")
    assert result.exit_code == 1
    assert "APPROVED" not in result.stdout
    (error,) = [line for line in stderr_lines(result) if line.startswith("error:")]
    assert error == (
        "error: refused: you refused the code of attempt 1 at the prompt, so it was not run "
        "(nor retried); fix: re-run and approve it (answer y, or pass --approve) if the write "
        "is wanted; otherwise change the cassette's code (`replaycodegen edit`)")
    assert "--retries" not in result.stderr and "more attempts" not in result.stderr


def test_a_timeout_names_the_timeout_option(invoke: Invoke, isolated: Path) -> None:
    (isolated / "loop.py").write_text("while True:\n    pass\n")
    assert invoke("new", "loop.yaml", "--code", "loop.py").exit_code == 0
    result = invoke("run", "--cassette", "loop.yaml", "--timeout", "1", "--retries", "1",
                    "--isolation", "process")
    assert result.exit_code == 1
    assert ("TimeoutError: the code did not finish within 1 s and was killed; make it faster "
            "or raise --timeout S") in result.stdout
    assert "execution.timeout_seconds" not in result.output
    assert stderr_lines(result)[-1].endswith(
        "fix: give each attempt more time with --timeout S (now 1 s), or make the code faster "
        "(`replaycodegen edit`)")
