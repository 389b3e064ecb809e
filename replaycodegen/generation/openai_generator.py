"""A code generator for any OpenAI-compatible chat server, through the official ``openai`` SDK.

Importing this module does not import ``openai``; constructing the generator does.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from replaycodegen.errors import CodeGenerationError
from replaycodegen.generation.extract import extract_code
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.guard import LiveCallBlocked
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY_MESSAGE = (
    "OpenAICodeGenerator: no API key: set OPENAI_API_KEY or pass api_key=... "
    "(servers that need no key, such as Ollama or vLLM, still need a dummy one, "
    "e.g. api_key='ollama')"
)
_DETAIL_CHARS = 300


class OpenAICodeGenerator:
    """Generates code with a chat model; implements :class:`CodeGenerator`.

    Defaults come from the environment: ``REPLAYCODEGEN_MODEL`` (else ``gpt-4o-mini``),
    ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` (else the OpenAI API). ``base_url`` points it
    at any OpenAI-compatible server. ``temperature`` or ``max_tokens`` set to ``None`` are
    not sent. Retries and backoff are the SDK's (``max_retries``). Only the last
    ``max_errors_in_prompt`` errors of the chain reach the prompt (``None``: all).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        temperature: float | None = 0.0,
        max_tokens: int | None = 4096,
        timeout: float = 60.0,
        max_retries: int = 2,
        prompt_builder: PromptBuilder | None = None,
        max_errors_in_prompt: int | None = 3,
    ) -> None:
        self.model = model or _env("REPLAYCODEGEN_MODEL") or DEFAULT_MODEL
        self.base_url = (base_url or _env("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else _env("OPENAI_API_KEY")
        if not key or not key.strip():
            raise CodeGenerationError(NO_KEY_MESSAGE)
        _check_settings(self.base_url, timeout, max_retries, max_errors_in_prompt)
        self._api_key = key.strip()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_errors_in_prompt = max_errors_in_prompt
        self.prompt_builder = prompt_builder if prompt_builder is not None else PromptBuilder()
        self.provider = provider_from_base_url(self.base_url)
        self._safe_base_url = safe_url(self.base_url)
        try:
            import openai  # noqa: F401 - fail here, with an install hint, not at first call
        except ImportError as exc:
            raise CodeGenerationError(
                "OpenAICodeGenerator needs the openai package: pip install 'replaycodegen[openai]'"
            ) from exc
        # One SDK client per event loop: pooled connections must not outlive their loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncOpenAI] = (
            weakref.WeakKeyDictionary()
        )
        self._clients_lock = threading.Lock()
        try:
            self._spare_client: AsyncOpenAI | None = self._new_client()
        except Exception as exc:  # the SDK validates its own settings
            raise CodeGenerationError(
                self._scrub(f"OpenAICodeGenerator: the openai SDK refused these settings: {exc}")
            ) from exc
        self._last_metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"OpenAICodeGenerator(model={self.model!r}, base_url={self._safe_base_url!r})"

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        """Return the code for ``request``; see :meth:`generate_code_with_metadata`."""
        code, _ = await self.generate_code_with_metadata(request, error_chain)
        return code

    async def generate_code_with_metadata(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> tuple[str, dict[str, Any]]:
        """Return the code and this call's metadata; safe when tasks share the generator.

        Raises :class:`CodeGenerationError` (cause chained) on any SDK failure and when
        the reply holds no code.
        """
        messages = self.prompt_builder.build(request, self._errors_for_prompt(error_chain))
        prompt_sha256 = self.prompt_builder.fingerprint(messages)
        import openai

        started = time.perf_counter()
        try:
            # The raw response tells how many retries the SDK took (bulk recording counts them).
            raw = await self._client().chat.completions.with_raw_response.create(
                model=self.model,
                messages=cast(Any, messages),
                temperature=openai.omit if self.temperature is None else self.temperature,
                max_tokens=openai.omit if self.max_tokens is None else self.max_tokens,
            )
            completion: ChatCompletion = raw.parse()
        except Exception as exc:
            raise CodeGenerationError(self.describe_failure(exc)) from exc
        latency_ms = round((time.perf_counter() - started) * 1000)
        retries = getattr(raw, "retries_taken", None)

        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice is not None else None) or ""
        finish_reason = choice.finish_reason if choice is not None else None
        metadata = self._metadata(completion, text, finish_reason, latency_ms, prompt_sha256)
        metadata["retries"] = retries if isinstance(retries, int) else 0
        self._last_metadata = metadata
        code = extract_code(text)
        if not code:
            raise CodeGenerationError(
                f"LLM returned empty code (model {metadata['model']!r} at {self._safe_base_url},"
                f" finish_reason {finish_reason!r}). Check get_generation_metadata()"
                f"['raw_response']; finish_reason 'length' means max_tokens={self.max_tokens} "
                "was too small."
            )
        return code, _copy(metadata)

    def get_generation_metadata(self) -> dict[str, Any]:
        """Metadata of the last call to finish (``{}`` before any); never headers or the key."""
        return _copy(self._last_metadata)

    async def aclose(self) -> None:
        """Close the SDK client used by the running event loop (optional clean-up)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def describe_failure(self, exc: BaseException) -> str:
        """A one-paragraph explanation of an SDK failure: what, where, and what to check."""
        import openai

        where = f"OpenAI generator (model {self.model!r}, base_url {self._safe_base_url})"
        blocked = _find_cause(exc, LiveCallBlocked)
        if blocked is not None:
            return f"{where}: {blocked}"
        retried = f"after {self.max_retries} retries"
        if isinstance(exc, openai.APIStatusError):
            status = f"HTTP {exc.status_code}: {_status_detail(exc)}"
            fixes: dict[type[openai.APIStatusError], str] = {
                openai.AuthenticationError: "the server rejected the API key ({s}). Check "
                "OPENAI_API_KEY or api_key=...; a local server accepts any non-empty dummy key.",
                openai.PermissionDeniedError: "access denied ({s}). Check that this key may "
                "use this model.",
                openai.NotFoundError: "not found ({s}). Check the model name (model=... or "
                "REPLAYCODEGEN_MODEL) and that base_url ends with /v1.",
                openai.RateLimitError: "rate limited or out of quota ({s}) " + retried + ". Wait"
                " and retry, raise max_retries=..., or check the account's quota.",
                openai.BadRequestError: "the server refused the request ({s}). Check that the "
                "model accepts temperature and max_tokens (set them to None to omit them).",
            }
            for kind, text in fixes.items():
                if isinstance(exc, kind):
                    return self._scrub(f"{where}: {text.format(s=status)}")
            return self._scrub(
                f"{where}: the server failed ({status}) {retried}. Retry later or check the "
                "server's logs and status page."
            )
        if isinstance(exc, openai.APITimeoutError):
            return (
                f"{where}: no answer within timeout={self.timeout}s {retried}. Raise timeout=..."
                " or check that the server is up and not overloaded."
            )
        if isinstance(exc, openai.APIConnectionError):
            return self._scrub(
                f"{where}: cannot connect ({_cause_text(exc)}) {retried}. Check that the server "
                "is running at base_url (OPENAI_BASE_URL) and reachable from here."
            )
        label = "SDK error" if isinstance(exc, openai.OpenAIError) else "unexpected error"
        # Not a server's words: keep the whole text (e.g. vcrpy's explanation of a miss).
        return self._scrub(
            f"{where}: {label} {type(exc).__name__}: {str(exc).strip()}\nCheck base_url and the "
            "HTTP layer (in tests: an HTTP cassette or mock that does not answer this request)."
        )

    # -- internals ---------------------------------------------------------------------------

    def _new_client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _client(self) -> AsyncOpenAI:
        loop = asyncio.get_running_loop()
        with self._clients_lock:  # loops may run in several threads
            client = self._clients.get(loop)
            if client is None:
                client = self._spare_client or self._new_client()
                self._spare_client = None
                self._clients[loop] = client
        return client

    def _errors_for_prompt(self, error_chain: Sequence[ErrorChainItem]) -> list[ErrorChainItem]:
        if self.max_errors_in_prompt is None:
            return list(error_chain)
        if self.max_errors_in_prompt == 0:
            return []
        return list(error_chain)[-self.max_errors_in_prompt :]

    def _metadata(
        self,
        completion: ChatCompletion,
        text: str,
        finish_reason: str | None,
        latency_ms: int,
        prompt_sha256: str,
    ) -> dict[str, Any]:
        usage = completion.usage
        return {
            "generator": "openai",
            "provider": self.provider,
            "model": completion.model or self.model,
            "base_url": self._safe_base_url,
            "usage": {
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "total_tokens": usage.total_tokens if usage else None,
            },
            "latency_ms": latency_ms,
            "raw_response": text,
            "finish_reason": finish_reason,
            "prompt_version": self.prompt_builder.version,
            "prompt_sha256": prompt_sha256,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _scrub(self, text: str) -> str:
        # Servers sometimes echo the key back; long keys never reach a message.
        if len(self._api_key) >= 8:
            text = text.replace(self._api_key, "***")
        return text


def provider_from_base_url(base_url: str) -> str:
    """``"openai"`` for the OpenAI API, else ``host`` or ``host:port`` of ``base_url``."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "openai.com" or host.endswith(".openai.com"):
        return "openai"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{parts.port}" if parts.port is not None else shown


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to log and to record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{shown}{port}{parts.path}".rstrip("/")


def _copy(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in metadata.items()}


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _check_settings(
    base_url: str, timeout: float, max_retries: int, max_errors_in_prompt: int | None
) -> None:
    problems = []
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
        problems.append(
            f"base_url {re.sub(r'[^/]*@', '***@', base_url)!r} is not an http(s) URL "
            "(e.g. http://localhost:11434/v1)"
        )
    if timeout <= 0:
        problems.append(f"timeout must be > 0 seconds, got {timeout}")
    if max_retries < 0:
        problems.append(f"max_retries must be >= 0, got {max_retries}")
    if max_errors_in_prompt is not None and max_errors_in_prompt < 0:
        problems.append(f"max_errors_in_prompt must be >= 0 or None, got {max_errors_in_prompt}")
    if problems:
        raise CodeGenerationError("OpenAICodeGenerator: " + "; ".join(problems))


def _find_cause(exc: BaseException, kind: type[LiveCallBlocked]) -> LiveCallBlocked | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _status_detail(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return _short(body["message"])
    return _short(str(exc.message))


def _cause_text(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return "no further detail"
    return f"{type(cause).__name__}: {_short(str(cause)) or 'no message'}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "..."
