"""One rule for the objective (issue 15 item 4): it defaults to the query in ``record``,
``run`` and ``--requests`` files, so ``run --query Q`` replays what ``record --query Q``
recorded, whichever entry of the cassette it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.testing import FakeOpenAIServer, fenced
from tests.cli.conftest import Invoke

DUMMY_KEY = "dummy-key-for-the-objective-tests"
CODE = {
    "first question": 'results = {"answer": 1}',
    "second question": 'results = {"answer": 2}',
}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def record(invoke: Invoke, server: FakeOpenAIServer, *args: str) -> Result:
    return invoke("record", "--cassette", "two.yaml", "--base-url", server.base_url,
                  "--model", "fake-model", *args, env={"OPENAI_API_KEY": DUMMY_KEY})


def test_run_query_replays_each_of_two_recorded_queries(
    invoke: Invoke, server: FakeOpenAIServer, isolated: Path
) -> None:
    for query, code in CODE.items():
        server.queue_response(fenced(code))
        assert record(invoke, server, "--query", query).exit_code == 0
    entries = load_cassette(isolated / "two.yaml").entries
    assert [(e.request or {}).get("task_objective") for e in entries] == list(CODE)

    for query, code in CODE.items():
        replay = invoke("run", "--cassette", "two.yaml", "--query", query)
        assert replay.exit_code == 0, replay.output
        assert f'"answer": {code[-2]}' in replay.stdout
        assert "objective:" not in replay.stdout  # the objective is the query
    assert len(server.requests) == 2  # replay never reached the model


def test_an_explicit_objective_replays_with_the_same_objective(
    invoke: Invoke, server: FakeOpenAIServer
) -> None:
    server.queue_response(fenced(CODE["first question"]))
    assert record(invoke, server, "--query", "q", "--objective", "o").exit_code == 0
    assert invoke("run", "--cassette", "two.yaml", "--query", "q", "--objective", "o"
                  ).exit_code == 0
    missed = invoke("run", "--cassette", "two.yaml", "--query", "q")
    assert missed.exit_code == 1
    assert "task_objective" in missed.stderr  # the miss shows the differing field


def test_a_requests_file_without_objectives_records_what_run_query_replays(
    invoke: Invoke, server: FakeOpenAIServer, isolated: Path
) -> None:
    (isolated / "requests.yaml").write_text(
        "requests:\n  - user_query: first question\n  - user_query: second question\n",
        encoding="utf-8",
    )
    for code in CODE.values():
        server.queue_response(fenced(code))
    result = record(invoke, server, "--requests", "requests.yaml")
    assert result.exit_code == 0, result.output
    for query in CODE:
        assert invoke("run", "--cassette", "two.yaml", "--query", query).exit_code == 0


def test_without_options_run_replays_the_first_request_as_recorded(
    invoke: Invoke, server: FakeOpenAIServer
) -> None:
    server.queue_response(fenced(CODE["first question"]))
    assert record(invoke, server, "--query", "first question").exit_code == 0
    result = invoke("run", "--cassette", "two.yaml")
    assert result.exit_code == 0
    assert "query:     first question" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "o"], "--objective needs --query (the objective defaults to the query)"),
        (["--entry", "e1", "--query", "q"], "give --entry or --query, not both"),
    ],
)
def test_run_refuses_a_half_given_request(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("run", *args)
    assert result.exit_code == 2
    assert message in result.stderr
