"""OpenAICodeGenerator: offline against vcrpy HTTP cassettes, and end to end against
FakeOpenAIServer (the real SDK over real loopback HTTP, a fake key, no internet).

The cassettes in ``http_cassettes/`` were recorded against FakeOpenAIServer. They match on
method, scheme, host, path, query and the JSON body, not the port (the server's port is
random), so a prompt change makes them miss. Re-record them with::

    REPLAYCODEGEN_RECORD_HTTP=1 .venv/bin/pytest tests/generation/test_openai_generator.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr

from replaycodegen.errors import CodeGenerationError
from replaycodegen.generation.openai_generator import (
    OpenAICodeGenerator,
    provider_from_base_url,
    safe_url,
)
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.models import ExecutionError, PythonExecutionRequest
from replaycodegen.testing import DEFAULT_CODE, FIXED_CODE, FakeOpenAIServer

CASSETTES = Path(__file__).parent / "http_cassettes"
RECORDING = os.environ.get("REPLAYCODEGEN_RECORD_HTTP") == "1"
FAKE_KEY = "sk-fake-0123456789abcdef"
PLAYBACK_BASE_URL = "http://127.0.0.1:9/v1"  # port is not matched; nothing listens there
KEPT_REQUEST_HEADERS = {"content-type", "accept"}
KEPT_RESPONSE_HEADERS = {"content-type", "content-length"}

REQUEST = PythonExecutionRequest(
    user_query="Average beam current over the last hour",
    task_objective="Compute the mean beam current",
    execution_folder_name="beam",
    expected_results={"mean": "float, mA"},
    capability_prompts=["Use read_channel(name) to read a PV history."],
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real key, base URL or model from the developer's shell reaches these tests."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REPLAYCODEGEN_MODEL"):
        monkeypatch.delenv(name, raising=False)


def _generator(base_url: str, **options: Any) -> OpenAICodeGenerator:
    options.setdefault("max_retries", 0)
    return OpenAICodeGenerator("gpt-4o-mini", api_key=FAKE_KEY, base_url=base_url, **options)


# -- HTTP cassettes ------------------------------------------------------------------------


def _keep_request_headers(request: Any) -> Any:
    for name in list(request.headers):
        if name.lower() not in KEPT_REQUEST_HEADERS:
            del request.headers[name]
    return request


def _keep_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers = response["headers"]
    response["headers"] = {k: v for k, v in headers.items() if k.lower() in KEPT_RESPONSE_HEADERS}
    return response


def _vcr() -> Any:
    return vcr.VCR(
        match_on=["method", "scheme", "host", "path", "query", "body"],
        filter_headers=["authorization"],
        before_record_request=_keep_request_headers,
        before_record_response=_keep_response_headers,
    )


@contextmanager
def http_cassette(
    name: str, script: Callable[[FakeOpenAIServer], None] | None = None
) -> Iterator[str]:
    """Yield the base_url to use: playback (default) or a fresh recording (see docstring)."""
    path = CASSETTES / f"{name}.yaml"
    if not RECORDING:
        with _vcr().use_cassette(str(path), record_mode="none"):
            yield PLAYBACK_BASE_URL
        return
    path.unlink(missing_ok=True)
    with FakeOpenAIServer() as server:
        if script is not None:
            script(server)
        with _vcr().use_cassette(str(path), record_mode="once"):
            yield server.base_url


async def test_cassette_success_with_fenced_code() -> None:
    with http_cassette("success_fenced") as base_url:
        generator = _generator(base_url)
        code = await generator.generate_code(REQUEST, [])
    assert code == DEFAULT_CODE
    meta = generator.get_generation_metadata()
    assert meta["generator"] == "openai"
    assert meta["model"] == "gpt-4o-mini"
    assert meta["raw_response"] == f"```python\n{DEFAULT_CODE}\n```"
    assert (
        meta["usage"]["total_tokens"]
        == meta["usage"]["prompt_tokens"] + meta["usage"]["completion_tokens"]
    )


async def test_cassette_error_chain_gets_the_fix() -> None:
    chain: list[Any] = [
        ExecutionError("ZeroDivisionError", "division by zero", failed_code="results = 1 / 0"),
        "NameError: name 'value' is not defined",
    ]
    with http_cassette("error_chain_fix") as base_url:
        code = await _generator(base_url).generate_code(REQUEST, chain)
    assert code == FIXED_CODE["NameError"]


async def test_cassette_prose_around_the_fence() -> None:
    reply = (
        "Here is the code:\n\n```python\nimport math\nresults = {'root': math.sqrt(2)}\n```"
        "\n\nDone."
    )
    with http_cassette("prose_around_fence", lambda s: s.queue_response(reply)) as base_url:
        code = await _generator(base_url).generate_code(REQUEST, [])
    assert code == "import math\nresults = {'root': math.sqrt(2)}"


async def test_cassette_no_fence() -> None:
    with http_cassette("no_fence", lambda s: s.queue_response("results = {'value': 1}\n")) as url:
        code = await _generator(url).generate_code(REQUEST, [])
    assert code == "results = {'value': 1}"


async def test_cassette_empty_reply_is_an_error() -> None:
    with http_cassette("empty_reply", lambda s: s.queue_response("  \n")) as base_url:
        generator = _generator(base_url)
        with pytest.raises(CodeGenerationError, match="LLM returned empty code") as caught:
            await generator.generate_code(REQUEST, [])
    assert "finish_reason 'stop'" in str(caught.value)
    assert generator.get_generation_metadata()["raw_response"] == "  \n"


async def test_cassette_unauthorized() -> None:
    script: Callable[[FakeOpenAIServer], None] = lambda s: s.queue_error(  # noqa: E731
        401, "Incorrect API key provided"
    )
    with (
        http_cassette("unauthorized", script) as base_url,
        pytest.raises(CodeGenerationError) as caught,
    ):
        await _generator(base_url).generate_code(REQUEST, [])
    assert isinstance(caught.value.__cause__, openai.AuthenticationError)
    assert "rejected the API key (HTTP 401: Incorrect API key provided)" in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)


def test_cassettes_hold_no_key_and_no_authorization_header() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) == 6
    for path in files:
        text = path.read_text().lower()
        assert FAKE_KEY.lower() not in text, path
        assert "authorization" not in text, path
        assert "bearer" not in text, path


async def test_cassette_miss_is_a_clear_generation_error() -> None:
    """A changed prompt no longer matches the recorded body: vcrpy's explanation surfaces."""
    with _vcr().use_cassette(str(CASSETTES / "success_fenced.yaml"), record_mode="none"):
        generator = _generator(PLAYBACK_BASE_URL)
        with pytest.raises(CodeGenerationError) as caught:
            await generator.generate_code(REQUEST.model_copy(update={"user_query": "changed"}), [])
    message = str(caught.value)
    assert "unexpected error CannotOverwriteExistingCassetteException" in message
    assert "the closest differ in body" in message
    assert "How to fix" in message


# -- end to end against FakeOpenAIServer -----------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reported_model="gpt-4o-mini-2024-07-18") as running:
        yield running


async def test_metadata_describes_the_call_and_holds_no_key(server: FakeOpenAIServer) -> None:
    generator = _generator(server.base_url)
    code, meta = await generator.generate_code_with_metadata(REQUEST, [])
    assert code == DEFAULT_CODE
    sent = server.requests[0]
    assert meta == {
        "generator": "openai",
        "provider": f"127.0.0.1:{server.port}",
        "model": "gpt-4o-mini-2024-07-18",
        "base_url": server.base_url,
        "usage": meta["usage"],
        "latency_ms": meta["latency_ms"],
        "raw_response": f"```python\n{DEFAULT_CODE}\n```",
        "finish_reason": "stop",
        "prompt_version": PromptBuilder.version,
        "prompt_sha256": PromptBuilder.fingerprint(sent["messages"]),
        "temperature": 0.0,
        "max_tokens": 4096,
        "retries": 0,
    }
    assert set(meta["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert meta["usage"]["prompt_tokens"] > 0
    assert isinstance(meta["latency_ms"], int)
    assert meta["latency_ms"] >= 0
    assert generator.get_generation_metadata() == meta
    meta["usage"]["total_tokens"] = -1  # the caller's copy
    assert generator.get_generation_metadata()["usage"]["total_tokens"] != -1
    dumped = json.dumps(meta).lower()
    assert FAKE_KEY.lower() not in dumped
    assert "authorization" not in dumped
    assert server.headers_seen[0]["authorization"] == f"Bearer {FAKE_KEY}"
    assert FAKE_KEY not in repr(generator)


async def test_request_sent_carries_settings_and_the_prompt(server: FakeOpenAIServer) -> None:
    chain: list[Any] = [
        ExecutionError("KeyError", "'mean'", attempt_number=1, stage="execution"),
        ExecutionError("ZeroDivisionError", "division by zero", attempt_number=2),
        "TypeError: unsupported operand",
    ]
    generator = _generator(server.base_url, temperature=0.3, max_tokens=500, max_errors_in_prompt=2)
    await generator.generate_code(REQUEST, chain)
    sent = server.requests[0]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["temperature"] == 0.3
    assert sent["max_tokens"] == 500
    user = sent["messages"][-1]["content"]
    for fragment in (
        REQUEST.user_query,
        REQUEST.task_objective,
        '"mean": "float, mA"',
        REQUEST.capability_prompts[0],
        chain[1].to_prompt_text(),
        "TypeError: unsupported operand",
    ):
        assert fragment in user
    assert "KeyError" not in user  # only the last 2 errors


async def test_none_settings_are_not_sent(server: FakeOpenAIServer) -> None:
    await _generator(server.base_url, temperature=None, max_tokens=None).generate_code(REQUEST, [])
    assert "temperature" not in server.requests[0]
    assert "max_tokens" not in server.requests[0]


async def test_max_errors_in_prompt_zero_leaves_errors_out(server: FakeOpenAIServer) -> None:
    await _generator(server.base_url, max_errors_in_prompt=0).generate_code(REQUEST, ["NameError"])
    assert "NameError" not in server.requests[0]["messages"][-1]["content"]


async def test_custom_prompt_builder_is_used(server: FakeOpenAIServer) -> None:
    class OneLine(PromptBuilder):
        version = "one-line-7"

        def build(self, request: Any, error_chain: Any) -> list[dict[str, Any]]:
            return [{"role": "user", "content": f"code for: {request.user_query}"}]

    _, meta = await _generator(
        server.base_url, prompt_builder=OneLine()
    ).generate_code_with_metadata(REQUEST, [])
    assert server.requests[0]["messages"] == [
        {"role": "user", "content": f"code for: {REQUEST.user_query}"}
    ]
    assert meta["prompt_version"] == "one-line-7"


@pytest.mark.parametrize(
    ("status", "cause", "hint"),
    [
        (401, openai.AuthenticationError, "OPENAI_API_KEY"),
        (404, openai.NotFoundError, "REPLAYCODEGEN_MODEL"),
        (429, openai.RateLimitError, "max_retries"),
        (500, openai.InternalServerError, "HTTP 500: overloaded"),
    ],
)
async def test_http_errors_become_generation_errors(
    server: FakeOpenAIServer, status: int, cause: type[Exception], hint: str
) -> None:
    server.queue_error(status, "overloaded")
    with pytest.raises(CodeGenerationError) as caught:
        await _generator(server.base_url).generate_code(REQUEST, [])
    assert isinstance(caught.value.__cause__, cause)
    message = str(caught.value)
    assert "model 'gpt-4o-mini'" in message
    assert server.base_url in message
    assert hint in message
    assert FAKE_KEY not in message


async def test_a_key_echoed_by_the_server_is_scrubbed(server: FakeOpenAIServer) -> None:
    server.queue_error(401, f"Incorrect API key provided: {FAKE_KEY}")
    with pytest.raises(CodeGenerationError) as caught:
        await _generator(server.base_url).generate_code(REQUEST, [])
    assert FAKE_KEY not in str(caught.value)
    assert "***" in str(caught.value)


async def test_sdk_retries_are_used(server: FakeOpenAIServer) -> None:
    server.queue_error(500, "flaky")
    code = await _generator(server.base_url, max_retries=1).generate_code(REQUEST, [])
    assert code == DEFAULT_CODE
    assert len(server.requests) == 2


async def test_timeout_becomes_a_generation_error(server: FakeOpenAIServer) -> None:
    server.delay = 2.0  # stop() cuts the wait short
    with pytest.raises(CodeGenerationError, match=r"no answer within timeout=0\.2s") as caught:
        await _generator(server.base_url, timeout=0.2).generate_code(REQUEST, [])
    assert isinstance(caught.value.__cause__, openai.APITimeoutError)


async def test_connection_refused_names_the_server() -> None:
    with FakeOpenAIServer() as server:
        base_url = server.base_url
    with pytest.raises(CodeGenerationError, match="cannot connect") as caught:
        await _generator(base_url).generate_code(REQUEST, [])
    assert isinstance(caught.value.__cause__, openai.APIConnectionError)
    assert "OPENAI_BASE_URL" in str(caught.value)


async def test_null_content_is_empty_code(server: FakeOpenAIServer) -> None:
    server.queue_response(None)
    with pytest.raises(CodeGenerationError, match="LLM returned empty code"):
        await _generator(server.base_url).generate_code(REQUEST, [])


async def test_concurrent_tasks_get_their_own_metadata(server: FakeOpenAIServer) -> None:
    server.set_responder(
        lambda body: f"```python\nresults = {{'n': {len(body['messages'][-1]['content'])}}}\n```"
    )
    server.delay = 0.05
    generator = _generator(server.base_url)
    requests = [REQUEST.model_copy(update={"user_query": "x" * n}) for n in (1, 20, 300)]
    outcomes = await asyncio.gather(
        *(generator.generate_code_with_metadata(r, []) for r in requests)
    )
    for request, (code, meta) in zip(requests, outcomes, strict=True):
        messages = PromptBuilder().build(request, [])
        assert meta["prompt_sha256"] == PromptBuilder.fingerprint(messages)
        assert code == f"results = {{'n': {len(messages[-1]['content'])}}}"
        assert meta["raw_response"] == f"```python\n{code}\n```"


def test_one_generator_serves_several_event_loops(server: FakeOpenAIServer) -> None:
    generator = _generator(server.base_url)
    for _ in range(2):
        assert asyncio.run(generator.generate_code(REQUEST, [])) == DEFAULT_CODE


async def test_aclose_then_reuse(server: FakeOpenAIServer) -> None:
    generator = _generator(server.base_url)
    await generator.generate_code(REQUEST, [])
    await generator.aclose()
    assert await generator.generate_code(REQUEST, []) == DEFAULT_CODE


# -- construction, environment, imports -----------------------------------------------------


def test_no_api_key_is_a_clear_error() -> None:
    with pytest.raises(
        CodeGenerationError, match=r"no API key: set OPENAI_API_KEY or pass api_key="
    ):
        OpenAICodeGenerator()
    with pytest.raises(CodeGenerationError, match="dummy"):
        OpenAICodeGenerator(api_key="  ")


def test_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    monkeypatch.setenv("REPLAYCODEGEN_MODEL", "llama3.1")
    generator = OpenAICodeGenerator()
    assert generator.model == "llama3.1"
    assert generator.base_url == "http://localhost:11434/v1"
    assert generator.provider == "localhost:11434"
    explicit = OpenAICodeGenerator(
        "gpt-4.1", api_key="sk-other", base_url="https://api.openai.com/v1"
    )
    assert (explicit.model, explicit.provider) == ("gpt-4.1", "openai")


def test_defaults_without_environment() -> None:
    generator = OpenAICodeGenerator(api_key=FAKE_KEY)
    assert generator.model == "gpt-4o-mini"
    assert generator.base_url == "https://api.openai.com/v1"
    assert generator.get_generation_metadata() == {}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"base_url": "localhost:8000"}, "'localhost:8000' is not an http(s) URL"),
        ({"base_url": "ftp://u:secret@host/v1"}, "'ftp://***@host/v1' is not"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"max_errors_in_prompt": -2}, "max_errors_in_prompt must be >= 0"),
    ],
)
def test_bad_settings_are_reported(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(CodeGenerationError, match=re.escape(problem)):
        OpenAICodeGenerator(api_key=FAKE_KEY, **options)


def test_urls_are_made_safe_to_record() -> None:
    assert safe_url("https://user:pw@example.com:8443/v1/?token=x") == "https://example.com:8443/v1"
    assert provider_from_base_url("https://eu.api.openai.com/v1") == "openai"
    assert provider_from_base_url("http://[::1]:8000/v1") == "[::1]:8000"
    assert provider_from_base_url("https://openrouter.ai/api/v1") == "openrouter.ai"


def test_import_replaycodegen_does_not_import_openai_but_constructing_does() -> None:
    code = (
        "import sys\n"
        "import replaycodegen, replaycodegen.generation.openai_generator as m\n"
        "assert 'openai' not in sys.modules, 'import replaycodegen imported openai'\n"
        "m.OpenAICodeGenerator(api_key='sk-fake')\n"
        "assert 'openai' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
