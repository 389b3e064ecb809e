"""``replaycodegen record`` against FakeOpenAIServer (127.0.0.1, a dummy key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.testing import FakeOpenAIServer, fenced
from tests.cli.conftest import Invoke, stderr_lines

DUMMY_KEY = "dummy-key-for-the-cli-tests"
BROKEN = 'results = {"mean": statistics.mean([1, 2, 3])}'
FIXED = 'import statistics\nresults = {"mean": statistics.mean([1, 2, 3])}'


def record(invoke: Invoke, server: FakeOpenAIServer, *args: str) -> Result:
    return invoke("record", "--base-url", server.base_url, "--model", "fake-model", *args,
                  env={"OPENAI_API_KEY": DUMMY_KEY})


def test_records_a_failure_and_its_fix(invoke: Invoke, server: FakeOpenAIServer,
                                       isolated: Path) -> None:
    server.queue_response(fenced(BROKEN))
    server.queue_response("Fixed the import:\n" + fenced(FIXED))
    result = invoke("record", "--cassette", "rec.yaml", "--base-url", server.base_url,
                    "--model", "fake-model", "--query", "mean of 1 2 3",
                    "--description", "recorded by the CLI tests",
                    env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "--- attempt 1: recorded now as entry e1 ---" in out
    assert "NameError" in out
    assert "--- attempt 2: recorded now as entry e2 ---" in out
    assert "recorded 2 new entries into rec.yaml (mode new_episodes; 2 entries in all)" in out
    assert "generator calls: 2 (2 recorded, 0 replayed)" in out
    tokens = sum(
        e.meta["usage"]["total_tokens"] for e in load_cassette(isolated / "rec.yaml").entries
    )
    assert f"tokens: {tokens}; models: fake-model" in out
    cassette = load_cassette(isolated / "rec.yaml")
    assert cassette.description == "recorded by the CLI tests"
    assert [e.id for e in cassette.entries] == ["e1", "e2"]
    assert cassette.entries[1].error_chain[0].type == "NameError"
    assert DUMMY_KEY not in (isolated / "rec.yaml").read_text()

    # ... and the recording replays offline, with no key.
    replay = invoke("run", "--cassette", "rec.yaml")
    assert replay.exit_code == 0
    assert "OK attempt 2 succeeded after 1 failed attempt" in replay.stdout


def test_second_recording_replays_what_is_there(invoke: Invoke, server: FakeOpenAIServer
                                                ) -> None:
    server.queue_response(fenced('results = {"value": 1}'))
    assert record(invoke, server, "--cassette", "r.yaml", "--query", "q").exit_code == 0
    again = record(invoke, server, "--cassette", "r.yaml", "--query", "q")
    assert again.exit_code == 0
    assert "replayed entry e1" in again.stdout
    assert "recorded 0 new entries" in again.stdout
    assert len(server.requests) == 1


def test_requests_file_records_each_with_a_progress_bar(
    invoke: Invoke, server: FakeOpenAIServer, isolated: Path
) -> None:
    (isolated / "requests.yaml").write_text(
        "requests:\n"
        "  - user_query: first question\n    task_objective: answer one\n"
        "  - user_query: second question\n    task_objective: answer two\n"
        "    expected_results: {value: int}\n",
        encoding="utf-8",
    )
    result = record(invoke, server, "--cassette", "many.yaml", "--requests", "requests.yaml")
    assert result.exit_code == 0, result.output
    assert "recording 2 requests" in result.stderr  # the progress bar's label
    assert "requests: 2 (2 ok); generator calls: 2 (2 recorded, 0 replayed)" in result.stdout
    assert "--- attempt" not in result.stdout  # several requests: a summary, not every code
    queries = [e.request["user_query"] for e in load_cassette(isolated / "many.yaml").entries
               if e.request]
    assert queries == ["first question", "second question"]


def test_no_api_key_is_one_line_and_exit_2(invoke: Invoke, server: FakeOpenAIServer,
                                           isolated: Path) -> None:
    result = invoke("record", "--cassette", "rec.yaml", "--base-url", server.base_url,
                    "--query", "q")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "error: no API key: set OPENAI_API_KEY to record (a local OpenAI-compatible server "
        "accepts any dummy value, e.g. OPENAI_API_KEY=dummy); nothing was recorded"
    ]
    assert not (isolated / "rec.yaml").exists()
    assert server.requests == []


def test_a_request_that_fails_every_attempt_exits_1_but_stays_recorded(
    invoke: Invoke, server: FakeOpenAIServer, isolated: Path
) -> None:
    server.set_responder(lambda body: fenced("results = {'x': 1 / 0}"))
    result = record(invoke, server, "--cassette", "bad.yaml", "--query", "q", "--retries", "2")
    assert result.exit_code == 1
    assert "recorded 2 new entries" in result.stdout
    assert "error: the request did not finish: failed: all 2 attempts failed" in result.stderr
    assert len(load_cassette(isolated / "bad.yaml").entries) == 2


def test_server_errors_are_reported_not_recorded(invoke: Invoke, server: FakeOpenAIServer,
                                                 isolated: Path) -> None:
    server.queue_error(401, "invalid key")
    result = record(invoke, server, "--cassette", "r.yaml", "--query", "q")
    assert result.exit_code == 1
    assert "rejected the API key" in result.stderr
    assert "Traceback" not in result.output
    assert not (isolated / "r.yaml").exists()


def test_mode_none_never_calls_the_model(invoke: Invoke, server: FakeOpenAIServer) -> None:
    result = record(invoke, server, "--cassette", "none.yaml", "--query", "q", "--mode", "none")
    assert result.exit_code == 1
    assert "cassette miss" in result.stderr
    assert server.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- user_query: q\n  task_objective: o\n- task_objective: only an objective\n",
         "requests.yaml:3: request 2: user_query: Field required"),
        ("requests:\n  - user_query: q\n    task_objective: o\n    colour: red\n",
         "requests.yaml:2: request 1: unknown field colour"),
        ("requests: [\n", "requests.yaml:2: invalid YAML"),
        ("{}\n", "requests.yaml:1: expected a non-empty list of requests"),
    ],
)
def test_bad_requests_file_exits_2_naming_the_line(
    invoke: Invoke, server: FakeOpenAIServer, isolated: Path, content: str, message: str
) -> None:
    (isolated / "requests.yaml").write_text(content, encoding="utf-8")
    result = record(invoke, server, "--cassette", "r.yaml", "--requests", "requests.yaml")
    assert result.exit_code == 2
    assert len(stderr_lines(result)) == 1 and message in result.stderr
    assert not (isolated / "r.yaml").exists()


def test_query_or_requests_is_required(invoke: Invoke) -> None:
    result = invoke("record", "--cassette", "r.yaml", env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 2
    assert "give --query (and --objective), --request JSON or --requests FILE.yaml" in result.stderr


def test_mode_choices_match_the_library() -> None:
    from replaycodegen.cli.record_cmd import RECORD_MODES
    from replaycodegen.generation.record_mode import RecordMode

    assert tuple(m.value for m in RecordMode) == RECORD_MODES


def test_a_bad_base_url_is_bad_input(invoke: Invoke) -> None:
    result = invoke("record", "--cassette", "r.yaml", "--query", "q", "--base-url", "ftp://x",
                    env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 2
    assert "is not an http(s) URL" in result.stderr and "nothing was recorded" in result.stderr


# -- whole messages (issue 15 item 13) ------------------------------------------------------


def test_a_miss_is_explained_whole(invoke: Invoke, server: FakeOpenAIServer,
                                   isolated: Path) -> None:
    server.queue_response(fenced("results = {'x': 1}"))
    assert record(invoke, server, "--cassette", "c.yaml", "--query", "mean current",
                  "--objective", "average it").exit_code == 0
    result = record(invoke, server, "--cassette", "c.yaml", "--query", "mean curent",
                    "--objective", "average it", "--mode", "none")
    assert result.exit_code == 1
    err = result.stderr
    assert err.startswith("error: the request did not finish: cassette miss: replaycodegen: "
                          "no cassette entry for this request (no match)")
    for line in ("closest entries:", "- e1 [recorded, line ", "1 difference",
                 "user_query: recorded 'mean current' != now 'mean curent'", "how to fix:"):
        assert line in err
    assert "..." not in err
    assert "request 1 ('mean curent'): cassette miss (the error below says why)" in (
        result.stdout)


def test_a_connection_error_keeps_its_whole_fix(invoke: Invoke, isolated: Path,
                                                no_backoff: None) -> None:
    result = invoke("record", "--cassette", "c.yaml", "--query", "q", "--base-url",
                    "http://127.0.0.1:9/v1", "--max-retries", "0",
                    env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 1
    assert "cannot connect" in result.stderr
    assert result.stderr.rstrip().endswith(
        "Check that the server is running at base_url (OPENAI_BASE_URL) and reachable from "
        "here.")


def test_with_several_requests_each_message_is_in_the_summary(
    invoke: Invoke, isolated: Path, no_backoff: None
) -> None:
    (isolated / "requests.yaml").write_text("- user_query: one\n- user_query: two\n")
    result = invoke("record", "--cassette", "c.yaml", "--requests", "requests.yaml",
                    "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0",
                    env={"OPENAI_API_KEY": DUMMY_KEY})
    assert result.exit_code == 1
    assert result.stdout.count("and reachable from here.") == 2
    assert stderr_lines(result)[-1] == (
        "error: 2 of 2 requests did not finish (request 1: failed, request 2: failed); each "
        "request's whole message is in the summary")
