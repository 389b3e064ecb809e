"""Recording budgets and dry runs: never a live call past ``max_calls``/``max_tokens``, and
a dry run calls and writes nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from replaycodegen import OpenAICodeGenerator, PythonExecutionRequest, RecordingCodeGenerator
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cli import cli
from replaycodegen.errors import CassetteMiss
from replaycodegen.generation.budget import BudgetExceeded, RecordingBudget
from replaycodegen.generation.recording import WouldGoLive
from replaycodegen.testing import FakeOpenAIServer

KEY = "dummy-key-for-the-budget-tests"


def ask(query: str) -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query=query, task_objective="answer it",
                                  execution_folder_name="budget")


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def generator(server: FakeOpenAIServer) -> OpenAICodeGenerator:
    return OpenAICodeGenerator("fake-model", api_key=KEY, base_url=server.base_url)


async def test_a_budget_of_three_calls_stops_the_fourth_with_nothing_recorded_past_it(
    server: FakeOpenAIServer, generator: OpenAICodeGenerator, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    with RecordingCodeGenerator(generator, path, "new_episodes", max_calls=3) as recorder:
        for n in range(1, 4):
            await recorder.generate_code(ask(f"q{n}"), [])
        with pytest.raises(BudgetExceeded) as caught:
            await recorder.generate_code(ask("q4"), [])
    with RecordingCodeGenerator(generator, path, "new_episodes", max_calls=0) as again:
        for n in range(1, 4):  # replays cost nothing
            await again.generate_code(ask(f"q{n}"), [])
    assert len(server.requests) == 3
    assert [e.request["user_query"] for e in load_cassette(path).entries if e.request] == [
        "q1", "q2", "q3"]
    message = str(caught.value)
    assert message.startswith("recording budget used up: 3 live calls made, the limit is 3 "
                              "(max calls); request 'q4' (attempt 1) for ")
    assert "was not recorded, and no live call was made for it" in message
    assert caught.value.calls == 3 and caught.value.refused.startswith("request 'q4'")
    assert recorder.calls == 3


async def test_a_token_budget_is_checked_before_each_call_with_the_usage_known(
    server: FakeOpenAIServer, generator: OpenAICodeGenerator, tmp_path: Path
) -> None:
    with RecordingCodeGenerator(generator, tmp_path / "t.yaml", "new_episodes",
                                max_tokens=1) as recorder:
        await recorder.generate_code(ask("q1"), [])  # 0 used before: it may start
        with pytest.raises(BudgetExceeded, match="checked before each call with the usage "
                           "known so far, so the last call may go past it"):
            await recorder.generate_code(ask("q2"), [])
    assert len(server.requests) == 1
    assert recorder.budget.tokens > 1


def test_one_budget_file_is_shared_by_processes_that_race_for_it(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        from replaycodegen.generation.budget import BudgetExceeded, RecordingBudget
        budget = RecordingBudget(max_calls=7, shared_file={str(tmp_path / 'b.json')!r})
        granted = 0
        for _ in range(10):
            try:
                budget.reserve("a call")
                granted += 1
            except BudgetExceeded:
                pass
        print(granted)
    """)
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
            for _ in range(4)]
    granted = [int(run.communicate(timeout=60)[0]) for run in runs]
    assert sum(granted) == 7
    assert RecordingBudget(shared_file=tmp_path / "b.json").calls == 7


async def test_a_dry_run_calls_nothing_and_writes_nothing(
    server: FakeOpenAIServer, generator: OpenAICodeGenerator, tmp_path: Path
) -> None:
    new = tmp_path / "new.yaml"
    recorder = RecordingCodeGenerator(generator, new, "new_episodes", dry_run=True)
    with recorder, pytest.raises(WouldGoLive) as caught:
        await recorder.generate_code(ask("q1"), [])
    assert isinstance(caught.value, CassetteMiss)
    assert "dry run: request 'q1' (attempt 1) for" in str(caught.value)
    assert [(r.user_query, why) for r, _, why in recorder.would_call] == [
        ("q1", "not in the cassette")]
    assert not new.exists() and server.requests == []

    kept = tmp_path / "kept.yaml"
    with RecordingCodeGenerator(generator, kept, "new_episodes") as recorder:
        await recorder.generate_code(ask("q1"), [])
    before = kept.read_bytes()
    for mode in ("rewrite", "all"):
        dry = RecordingCodeGenerator(generator, kept, mode, dry_run=True)
        with dry, pytest.raises(WouldGoLive):
            await dry.generate_code(ask("q1"), [])
    assert kept.read_bytes() == before  # rewrite did not empty it
    assert len(server.requests) == 1


def test_budget_limits_must_be_whole_numbers() -> None:
    with pytest.raises(ValueError, match="max_calls must be a whole number >= 0"):
        RecordingBudget(max_calls=-1)
    with pytest.raises(ValueError, match="give max_calls/max_tokens or a budget, not both"):
        RecordingCodeGenerator(object(), "x.yaml", "none", max_calls=1,  # type: ignore[arg-type]
                               budget=RecordingBudget())


# -- the command line ------------------------------------------------------------------


def _record(tmp_path: Path, server: FakeOpenAIServer, *args: str, key: bool = True
            ) -> tuple[int, str, str]:
    requests = tmp_path / "requests.yaml"
    requests.write_text("".join(f"- {{user_query: q{n}, task_objective: answer it}}\n"
                                for n in range(1, 6)), encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "record", "--cassette", str(tmp_path / "c.yaml"), "--requests", str(requests),
        "--base-url", server.base_url, "--model", "fake-model", *args,
    ], env={"OPENAI_API_KEY": KEY if key else ""})
    return result.exit_code, result.stdout, result.stderr


def test_cli_max_calls_names_what_was_left_unrecorded(server: FakeOpenAIServer,
                                                      tmp_path: Path) -> None:
    code, out, err = _record(tmp_path, server, "--max-calls", "3", "--jobs", "2")
    assert code == 1
    assert len(server.requests) == 3
    assert len(load_cassette(tmp_path / "c.yaml")) == 3
    assert "budget: 3 of 3 calls" in out
    assert "the recording budget stopped 2 requests after 3 live calls" in err
    assert "not recorded: request 'q" in err and "Raise --max-calls/--max-tokens" in err
    # The re-run records only what is missing.
    code, out, _ = _record(tmp_path, server)
    assert code == 0 and len(server.requests) == 5
    assert "3 already recorded (replayed, no call)" in out


def test_cli_max_tokens_stops_once_the_tokens_are_used_up(server: FakeOpenAIServer,
                                                         tmp_path: Path) -> None:
    code, _, err = _record(tmp_path, server, "--max-tokens", "1")
    assert code == 1
    assert len(server.requests) == 1  # the first answer's usage spent the whole budget
    assert len(load_cassette(tmp_path / "c.yaml")) == 1
    assert "the recording budget stopped 4 requests after 1 live call" in err
    assert "not recorded: request 'q" in err and "Raise --max-calls/--max-tokens" in err


def test_cli_dry_run_needs_no_key_lists_the_calls_and_creates_nothing(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    code, out, _ = _record(tmp_path, server, "--dry-run", key=False)
    assert code == 0
    assert "dry run: 5 calls would go to the model for" in out
    assert "  request 'q1' (attempt 1): not in the cassette" in out
    assert server.requests == [] and not (tmp_path / "c.yaml").exists()
