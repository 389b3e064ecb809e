"""block_live_llm_calls: live calls fail at once, loopback passes, and nothing leaks out."""

from __future__ import annotations

import http.client
import pickle
import subprocess
import sys
import urllib.request
from enum import Enum
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from replaycodegen.errors import CodeGenerationError, ReplayCodegenError
from replaycodegen.generation.openai_generator import OpenAICodeGenerator
from replaycodegen.guard import LiveCallBlocked, block_live_llm_calls
from replaycodegen.models import PythonExecutionRequest
from replaycodegen.testing import FakeOpenAIServer

FAKE_KEY = "sk-fake-guard-test-0123456789"
MESSAGES: Any = [{"role": "user", "content": "hi"}]
REQUEST = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")



async def test_openai_sdk_call_is_blocked_before_any_network_attempt(no_dns: list[Any]) -> None:
    client = openai.AsyncOpenAI(api_key=FAKE_KEY, max_retries=2)
    with (
        block_live_llm_calls("tests/cassettes/beam.yaml", "none") as guard,
        pytest.raises(LiveCallBlocked) as caught,
    ):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    message = str(caught.value)
    assert "POST https://api.openai.com/v1/chat/completions" in message
    assert "record mode 'none'" in message
    assert "cassette tests/cassettes/beam.yaml" in message
    assert "--codegen-record-mode=once" in message
    assert "replaycodegen record --cassette tests/cassettes/beam.yaml --mode once" in message
    assert FAKE_KEY not in message
    assert no_dns == []
    assert len(guard.blocked) == 1  # not retried by the SDK
    assert caught.value.url == "https://api.openai.com/v1/chat/completions"
    assert isinstance(caught.value, ReplayCodegenError)


async def test_generator_error_carries_the_guard_message(no_dns: list[Any]) -> None:
    generator = OpenAICodeGenerator("gpt-4o-mini", api_key=FAKE_KEY)
    with (
        block_live_llm_calls("tests/cassettes/beam.yaml"),
        pytest.raises(CodeGenerationError) as caught,
    ):
        await generator.generate_code(REQUEST, [])
    assert isinstance(caught.value.__cause__, LiveCallBlocked)
    assert "model 'gpt-4o-mini'" in str(caught.value)
    assert str(caught.value.__cause__) in str(caught.value)
    assert no_dns == []


def test_guard_message_is_found_behind_a_wrapping_sdk_error() -> None:
    # Older SDKs retry any transport exception and raise APIConnectionError from it.
    generator = OpenAICodeGenerator("gpt-4o-mini", api_key=FAKE_KEY)
    blocked = LiveCallBlocked(
        method="POST", url="https://api.openai.com/v1/x", cassette_path="c.yaml", record_mode="none"
    )
    try:
        try:
            raise blocked
        except LiveCallBlocked as exc:
            request = httpx2.Request("POST", "https://api.openai.com/v1/x")
            raise openai.APIConnectionError(request=request) from exc
    except openai.APIConnectionError as wrapped:
        assert str(blocked) in generator.describe_failure(wrapped)


def test_sync_clients_are_blocked_too(no_dns: list[Any]) -> None:
    with block_live_llm_calls() as guard:
        with pytest.raises(LiveCallBlocked, match=r"GET https://example\.com/data"):
            httpx2.Client().get("https://example.com/data")
        with pytest.raises(LiveCallBlocked, match="cassette none given"):
            urllib.request.urlopen("http://example.com/v1/models?key=secret-in-query", timeout=5)
    assert len(guard.blocked) == 2
    assert "secret-in-query" not in str(guard.blocked[1])
    assert "--cassette PATH --mode once" in str(guard.blocked[1])
    assert no_dns == []


async def test_loopback_is_allowed_by_default() -> None:
    with FakeOpenAIServer() as server, block_live_llm_calls() as guard:
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, base_url=server.base_url, max_retries=0)
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as response:
            assert response.status == 200
    assert reply.choices[0].message.content
    assert guard.blocked == []
    assert len(server.requests) == 1


async def test_empty_allow_hosts_blocks_loopback() -> None:
    with FakeOpenAIServer() as server, block_live_llm_calls(allow_hosts=()):
        client = openai.AsyncOpenAI(api_key=FAKE_KEY, base_url=server.base_url, max_retries=0)
        with pytest.raises(LiveCallBlocked, match=r"http://127\.0\.0\.1:\d+/v1/chat/completions"):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert server.requests == []


def test_everything_is_restored_on_exit_even_after_an_error(tmp_path: Path) -> None:
    originals = (
        httpx2.AsyncHTTPTransport.handle_async_request,
        httpx2.HTTPTransport.handle_request,
        http.client.HTTPConnection,
        http.client.HTTPSConnection,
    )
    cassette = tmp_path / "never-written.yaml"
    with pytest.raises(RuntimeError, match="boom"), block_live_llm_calls(cassette):
        assert http.client.HTTPConnection is not originals[2]
        raise RuntimeError("boom")
    assert (
        httpx2.AsyncHTTPTransport.handle_async_request,
        httpx2.HTTPTransport.handle_request,
        http.client.HTTPConnection,
        http.client.HTTPSConnection,
    ) == originals
    assert not cassette.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_cassette_gets_new_episodes_as_the_fix(tmp_path: Path) -> None:
    cassette = tmp_path / "beam.yaml"
    cassette.write_text("version: 1\nentries: []\n")
    with block_live_llm_calls(cassette), pytest.raises(LiveCallBlocked) as caught:
        httpx2.Client().get("https://api.openai.com/v1/models")
    assert "--codegen-record-mode=new_episodes" in str(caught.value)
    assert f"--cassette {cassette} --mode new_episodes" in str(caught.value)
    assert cassette.read_text() == "version: 1\nentries: []\n"


def test_live_call_blocked_pickles() -> None:
    blocked = LiveCallBlocked(
        method="GET", url="https://example.com/", cassette_path=None, record_mode="once"
    )
    copy = pickle.loads(pickle.dumps(blocked))
    assert (str(copy), copy.url, copy.record_mode) == (str(blocked), blocked.url, "once")


def test_record_mode_is_validated_and_enums_are_accepted() -> None:
    class Mode(str, Enum):  # noqa: UP042 - like vcrpy's RecordMode, str() is not the value
        ONCE = "once"

    with (
        pytest.raises(ValueError, match="unknown record mode 'sometimes'"),
        block_live_llm_calls(record_mode="sometimes"),
    ):
        pass
    with block_live_llm_calls(record_mode=Mode.ONCE) as guard:
        assert guard.record_mode == "once"


def test_importing_the_guard_does_not_import_vcr() -> None:
    code = "import sys, replaycodegen.guard; assert 'vcr' not in sys.modules, 'vcr imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
