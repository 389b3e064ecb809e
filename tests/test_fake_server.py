"""FakeOpenAIServer: OpenAI-shaped replies, scripting, recording, threads, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from replaycodegen.testing import (
    DEFAULT_CODE,
    FIXED_CODE,
    FakeOpenAIServer,
    default_responder,
    fenced,
)


def _post(url: str, body: Any, *, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-fake"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _chat(
    server: FakeOpenAIServer, prompt: str = "hello", **extra: Any
) -> tuple[int, dict[str, Any]]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], **extra}
    return _post(f"{server.base_url}/chat/completions", body)


@pytest.fixture
def server() -> Any:
    with FakeOpenAIServer() as running:
        yield running


def test_completion_has_the_openai_shape(server: FakeOpenAIServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    status, reply = _chat(server, "two words")
    assert status == 200
    assert reply["object"] == "chat.completion"
    assert reply["id"].startswith("chatcmpl-")
    assert isinstance(reply["created"], int)
    assert reply["model"] == "gpt-4o-mini"
    choice = reply["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": fenced(DEFAULT_CODE),
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    assert reply["usage"]["prompt_tokens"] == 2
    assert reply["usage"]["total_tokens"] == 2 + reply["usage"]["completion_tokens"]


def test_requests_and_headers_are_recorded(server: FakeOpenAIServer) -> None:
    _chat(server, "first")
    _chat(server, "second")
    assert [r["messages"][0]["content"] for r in server.requests] == ["first", "second"]
    assert server.headers_seen[0]["authorization"] == "Bearer sk-fake"
    assert server.headers_seen[0]["content-type"] == "application/json"


def test_default_responder_fixes_the_error_mentioned_last() -> None:
    def body(prompt: str) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": "NameError"},
                {"role": "user", "content": prompt},
            ]
        }

    assert default_responder(body("compute")) == fenced(DEFAULT_CODE)
    assert default_responder(body("ZeroDivisionError: x")) == fenced(
        FIXED_CODE["ZeroDivisionError"]
    )
    assert default_responder(body("ZeroDivisionError then NameError")) == fenced(
        FIXED_CODE["NameError"]
    )
    assert default_responder(body("NameError then ZeroDivisionError")) == fenced(
        FIXED_CODE["ZeroDivisionError"]
    )


def test_queued_replies_come_first_in_order(server: FakeOpenAIServer) -> None:
    server.queue_response("first")
    server.queue_error(429, "slow down")
    server.queue_response(None)
    assert _chat(server)[1]["choices"][0]["message"]["content"] == "first"
    status, error = _chat(server)
    assert status == 429
    assert error["error"]["message"] == "slow down"
    assert error["error"]["type"] == "rate_limit_error"
    assert _chat(server)[1]["choices"][0]["message"]["content"] is None
    assert _chat(server)[1]["choices"][0]["message"]["content"] == fenced(DEFAULT_CODE)


@pytest.mark.parametrize(("status", "code"), [(401, "invalid_api_key"), (500, None)])
def test_queued_errors_are_openai_shaped(
    server: FakeOpenAIServer, status: int, code: str | None
) -> None:
    server.queue_error(status, "nope")
    got, error = _chat(server)
    assert got == status
    assert error["error"]["code"] == code


def test_queue_error_rejects_a_success_status(server: FakeOpenAIServer) -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        server.queue_error(200, "x")


def test_set_responder_and_a_failing_responder(server: FakeOpenAIServer) -> None:
    server.set_responder(lambda body: f"echo {body['messages'][-1]['content']}")
    assert _chat(server, "ping")[1]["choices"][0]["message"]["content"] == "echo ping"

    def broken(body: dict[str, Any]) -> str:
        raise RuntimeError("bug in test responder")

    server.set_responder(broken)
    status, error = _chat(server)
    assert status == 500
    assert "RuntimeError: bug in test responder" in error["error"]["message"]


def test_reported_model_and_models_endpoint() -> None:
    with FakeOpenAIServer(reported_model="gpt-4o-mini-2024-07-18") as server:
        assert _chat(server)[1]["model"] == "gpt-4o-mini-2024-07-18"
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as response:
            models = json.loads(response.read())
    assert models["object"] == "list"
    assert models["data"][0]["id"] == "gpt-4o-mini-2024-07-18"


def test_bad_requests_get_clear_errors(server: FakeOpenAIServer) -> None:
    assert _post(f"{server.base_url}/completions", {})[0] == 404
    status, error = _post(f"{server.base_url}/chat/completions", None, raw=b"{not json")
    assert status == 400
    assert "not JSON" in error["error"]["message"]
    status, error = _chat(server, stream=True)
    assert status == 400
    assert "stream" in error["error"]["message"]


def test_delay_still_answers(server: FakeOpenAIServer) -> None:
    server.delay = 0.05
    assert _chat(server)[0] == 200


def test_concurrent_requests_are_all_recorded(server: FakeOpenAIServer) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        reply = _chat(server, f"prompt {n}")[1]
        with lock:
            ids.append(reply["id"])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 8
    assert sorted(r["messages"][0]["content"] for r in server.requests) == [
        f"prompt {n}" for n in range(8)
    ]


def test_reset_forgets_everything(server: FakeOpenAIServer) -> None:
    server.queue_response("queued")
    server.set_responder(lambda body: "custom")
    _chat(server)
    server.queue_response("left over")
    server.reset()
    assert server.requests == []
    assert server.headers_seen == []
    assert _chat(server)[1]["choices"][0]["message"]["content"] == fenced(DEFAULT_CODE)


def test_start_stop_and_restart() -> None:
    server = FakeOpenAIServer().start()
    assert server.start() is server  # idempotent
    assert _chat(server)[0] == 200
    server.stop()
    with pytest.raises(urllib.error.URLError):
        _chat(server)
    server.stop()  # idempotent
    with server:  # restarts on the same port
        assert _chat(server)[0] == 200


def test_module_cli_prints_base_url_and_serves_until_killed() -> None:
    command = [sys.executable, "-m", "replaycodegen.testing", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            assert base_url.endswith("/v1")
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            status, reply = _post(f"{base_url}/chat/completions", body)
            assert status == 200
            assert reply["choices"][0]["message"]["content"] == fenced(DEFAULT_CODE)
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0  # SIGTERM is a clean exit
