"""Bulk recording: ``record --requests FILE --jobs N --rpm R``. Interrupted runs resume
without paying twice; 429 and 5xx answers are retried and never recorded."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cli import cli
from replaycodegen.generation.call_gate import CallGate, RateLimiter
from replaycodegen.testing import FakeOpenAIServer, default_responder, last_user_message

KEY = "dummy-key-for-the-bulk-tests"
QUERY = re.compile(r"User query: (q\d+)")


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def requests_file(folder: Path, count: int) -> Path:
    path = folder / "requests.yaml"
    path.write_text("".join(f"- {{user_query: q{n:02d}, task_objective: answer it}}\n"
                            for n in range(1, count + 1)), encoding="utf-8")
    return path


def asked(bodies: list[dict[str, Any]]) -> list[str]:
    out = []
    for body in bodies:
        match = QUERY.search(last_user_message(body))
        assert match is not None
        out.append(match.group(1))
    return out


def recorded_queries(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a torn last entry after SIGKILL is expected
        return [str(e.request["user_query"]) for e in load_cassette(path).entries if e.request]


def command(tmp_path: Path, server: FakeOpenAIServer, count: int = 20) -> list[str]:
    return [sys.executable, "-m", "replaycodegen.cli", "record",
            "--cassette", str(tmp_path / "bulk.yaml"),
            "--requests", str(requests_file(tmp_path, count)),
            "--jobs", "4", "--rpm", "600", "--base-url", server.base_url, "--model", "fake-model"]


def environment(tmp_path: Path) -> dict[str, str]:
    temp = tmp_path / "temp"
    temp.mkdir(exist_ok=True)
    return {**os.environ, "OPENAI_API_KEY": KEY, "TMPDIR": str(temp), "NO_COLOR": "1"}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_bulk_run_stopped_halfway_resumes_without_calling_twice(
    server: FakeOpenAIServer, tmp_path: Path, stop: signal.Signals
) -> None:
    server.delay = 0.05
    cassette = tmp_path / "bulk.yaml"
    run = subprocess.Popen(command(tmp_path, server), env=environment(tmp_path), cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(server.requests) < 8 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() is None, "the run finished before it could be stopped"
    run.send_signal(stop)
    _, err = run.communicate(timeout=60)
    first_calls = asked(server.requests)
    landed = recorded_queries(cassette)
    assert len(first_calls) >= 8 and len(landed) < 20
    if stop is signal.SIGINT:
        assert run.returncode == 130, err
        assert "interrupted: finishing the" in err
        assert sorted(first_calls) == sorted(landed)  # every call made was recorded
    else:
        assert run.returncode == -signal.SIGKILL
        assert set(landed) <= set(first_calls)
        assert len(first_calls) - len(landed) <= 4  # at most the calls in flight (--jobs 4)

    server.reset()
    server.delay = 0.0
    again = subprocess.run(command(tmp_path, server), env=environment(tmp_path), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    second_calls = asked(server.requests)
    assert not set(second_calls) & set(landed)  # nothing recorded is asked again
    assert sorted(second_calls + landed) == [f"q{n:02d}" for n in range(1, 21)]
    final = recorded_queries(cassette)
    assert sorted(final) == [f"q{n:02d}" for n in range(1, 21)]  # 20 entries, no duplicates
    assert f"{len(landed)} already recorded (replayed, no call)" in again.stdout


def cli_record(tmp_path: Path, server: FakeOpenAIServer, count: int, *args: str) -> Result:
    return CliRunner().invoke(cli, [
        "record", "--cassette", str(tmp_path / "c.yaml"),
        "--requests", str(requests_file(tmp_path, count)),
        "--base-url", server.base_url, "--model", "fake-model", *args,
    ], env={"OPENAI_API_KEY": KEY})


@pytest.mark.parametrize("status", [429, 503])
def test_scripted_transient_errors_are_retried_and_never_written(
    server: FakeOpenAIServer, tmp_path: Path, status: int
) -> None:
    for _ in range(4):  # the SDK tries 3 times (max_retries 2), then the gate waits, again
        server.queue_error(status, "slow down" if status == 429 else "overloaded")
    result = cli_record(tmp_path, server, 2, "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 6  # 4 errors, then one answer for each request
    assert "retries of 429/5xx answers or lost connections: 4 (never recorded)" in result.stdout
    text = (tmp_path / "c.yaml").read_text(encoding="utf-8")
    assert "slow down" not in text and "overloaded" not in text
    assert [e.code for e in load_cassette(tmp_path / "c.yaml").entries] == [
        'results = {"value": 42}'] * 2


def test_a_refused_request_is_not_retried_and_not_written(server: FakeOpenAIServer,
                                                          tmp_path: Path) -> None:
    server.queue_error(400, "bad parameters")
    result = cli_record(tmp_path, server, 1)
    assert result.exit_code == 1
    assert len(server.requests) == 1
    assert "the server refused the request" in result.stderr
    assert not (tmp_path / "c.yaml").exists()


def test_jobs_run_that_many_calls_at_once_and_no_more(server: FakeOpenAIServer,
                                                      tmp_path: Path) -> None:
    together = threading.Barrier(3, timeout=20)

    def answer(body: dict[str, Any]) -> str:
        if len(server.requests) <= 3:
            together.wait()  # the first three calls must be in flight at the same time
        return default_responder(body)

    server.set_responder(answer)
    result = cli_record(tmp_path, server, 9, "--jobs", "3")
    assert result.exit_code == 0, result.output
    assert server.max_concurrent == 3
    assert len(load_cassette(tmp_path / "c.yaml")) == 9


async def test_the_rate_limiter_spaces_call_starts() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.wait()
    assert slept == [0.5, 1.0]  # 120 per minute: one start every half second
    now[0] += 10
    await limiter.wait()
    assert slept == [0.5, 1.0]  # after a quiet spell, no wait


async def test_the_gate_stops_new_calls_but_not_those_in_flight(server: FakeOpenAIServer
                                                                 ) -> None:
    from replaycodegen import OpenAICodeGenerator, PythonExecutionRequest
    from replaycodegen.generation.call_gate import RecordingStopped

    server.delay = 0.2
    gate = CallGate(OpenAICodeGenerator("fake-model", api_key=KEY, base_url=server.base_url),
                    jobs=2)
    request = PythonExecutionRequest(user_query="q", task_objective="o",
                                     execution_folder_name="x")
    first = asyncio.ensure_future(gate.generate_code(request, []))
    while gate.in_flight == 0:
        await asyncio.sleep(0.01)
    gate.stop()
    with pytest.raises(RecordingStopped, match="re-run the same command to record it"):
        await gate.generate_code(request, [])
    assert await first == 'results = {"value": 42}'
    assert gate.calls == 1 and len(server.requests) == 1


def test_the_progress_bar_shows_done_total_calls_tokens_and_retries(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.queue_error(429, "slow down")
    main, child = pty.openpty()
    run = subprocess.Popen(command(tmp_path, server, 3), env=environment(tmp_path),
                           cwd=tmp_path, stdin=child, stdout=child, stderr=child)
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert run.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "recording 3 requests" in screen
    assert re.search(r"3/3\s+calls 3 · tokens \d+ · retries 1", screen), screen


def test_a_request_listed_twice_is_recorded_once_even_with_jobs(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    path = tmp_path / "requests.yaml"
    path.write_text("- {user_query: q01, task_objective: answer it}\n"
                    "- {user_query: q02, task_objective: answer it}\n"
                    "- {user_query: q01, task_objective: answer it}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "record", "--cassette", str(tmp_path / "c.yaml"), "--requests", str(path),
        "--base-url", server.base_url, "--model", "fake-model", "--jobs", "2",
    ], env={"OPENAI_API_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert sorted(asked(server.requests)) == ["q01", "q02"]
    assert sorted(recorded_queries(tmp_path / "c.yaml")) == ["q01", "q02"]
    assert "request 3 is request 1 again" in result.output
