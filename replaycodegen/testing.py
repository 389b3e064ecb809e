"""A tiny OpenAI-compatible HTTP server on 127.0.0.1, for tests, demos and recording practice.

>>> with FakeOpenAIServer() as server:                      # doctest: +SKIP
...     gen = OpenAICodeGenerator(base_url=server.base_url, api_key="sk-fake")

Implements ``POST /v1/chat/completions`` and ``GET /v1/models``. Replies are scripted:
queued texts and errors first (in order), then the responder (by default
:func:`default_responder`). Stdlib only; ``python -m replaycodegen.testing --port 0``
prints the base URL and serves until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Responder = Callable[[dict[str, Any]], str | None]
"""Turns a chat-completions request body into the assistant's text (``None``: no content)."""

DEFAULT_CODE = 'results = {"value": 42}'
FIXED_CODE: dict[str, str] = {
    "ZeroDivisionError": 'denominator = 2\nresults = {"value": 84 / denominator}',
    "NameError": 'value = 42\nresults = {"value": value}',
}
"""The code :func:`default_responder` answers with when the prompt mentions that error."""

RETRY_AFTER_MS = 10
"""``retry-after-ms`` sent with 429 and 5xx replies, so SDK retries wait 10 ms, not seconds."""

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def fenced(code: str) -> str:
    """``code`` in a ```python fence, as most chat models answer."""
    return f"```python\n{code}\n```"


def last_user_message(body: dict[str, Any]) -> str:
    """The text of the last ``user`` message of a chat-completions body ("" if none)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def default_responder(body: dict[str, Any]) -> str:
    """Fenced :data:`DEFAULT_CODE`, or the :data:`FIXED_CODE` of the error mentioned last."""
    prompt = last_user_message(body)
    positions = {error: prompt.rfind(error) for error in FIXED_CODE}
    latest = max(positions, key=lambda error: positions[error])
    return fenced(FIXED_CODE[latest] if positions[latest] >= 0 else DEFAULT_CODE)


@dataclass(frozen=True)
class _Scripted:
    text: str | None = None
    status: int = 200
    message: str = ""


class FakeOpenAIServer:
    """An OpenAI-compatible server in a background thread; thread-safe; IPv4 hosts only.

    ``requests`` and ``headers_seen`` record every chat request received (bodies and
    lowercased headers), so a test can check what was sent. ``reported_model`` replaces
    the requested model in replies; ``delay`` (seconds) is waited before each reply.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Responder | None = None,
        delay: float = 0.0,
        reported_model: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.delay = delay
        self.reported_model = reported_model
        self._responder: Responder = responder or default_responder
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._script: deque[_Scripted] = deque()
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._count = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind (a free port when ``port=0``) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, self.port), _Handler, fake=self)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; pending delays end at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` (or ``OPENAI_BASE_URL``): ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- scripting -------------------------------------------------------------------------

    def queue_response(self, text: str | None) -> None:
        """Answer the next unscripted chat request with ``text`` (``None``: null content)."""
        with self._lock:
            self._script.append(_Scripted(text=text))

    def queue_error(self, status: int, message: str = "scripted error") -> None:
        """Answer the next unscripted chat request with an OpenAI-style error (401, 429, 500...)."""
        if not 400 <= status <= 599:
            raise ValueError(f"queue_error: status must be 4xx or 5xx, got {status}")
        with self._lock:
            self._script.append(_Scripted(status=status, message=message))

    def set_responder(self, responder: Responder) -> None:
        """Answer unscripted chat requests with ``responder(body)``."""
        with self._lock:
            self._responder = responder

    def reset(self) -> None:
        """Forget queued replies and recorded requests; restore the default responder."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._headers.clear()
            self._max_in_flight = 0
            self._responder = default_responder

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat requests received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def max_concurrent(self) -> int:
        """The most chat requests that were being answered at the same time."""
        with self._lock:
            return self._max_in_flight

    @property
    def headers_seen(self) -> list[dict[str, str]]:
        """The headers (names lowercased) of the chat requests received (a copy)."""
        with self._lock:
            return [dict(h) for h in self._headers]

    # -- request handling (called from handler threads) -----------------------------------

    def _chat(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            return self._answer(body, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, body: dict[str, Any], headers: dict[str, str]
                ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            self._count += 1
            number = self._count
            scripted = self._script.popleft() if self._script else None
            responder = self._responder
        if self.delay > 0 and self._stopping.wait(self.delay):
            return 503, _error_body(503, "FakeOpenAIServer is stopping")
        if body.get("stream"):
            return 400, _error_body(400, "FakeOpenAIServer does not support stream=true")
        if scripted is not None and scripted.status != 200:
            return scripted.status, _error_body(scripted.status, scripted.message)
        if scripted is not None:
            text = scripted.text
        else:
            try:
                text = responder(body)
            except Exception as exc:  # the responder is test code: report, don't crash
                return 500, _error_body(500, f"responder failed: {type(exc).__name__}: {exc}")
        model = self.reported_model or str(body.get("model") or "fake-model")
        return 200, _completion(number, model, body, text)

    def _models(self) -> dict[str, Any]:
        model = self.reported_model or "fake-model"
        entry = {"id": model, "object": "model", "created": 0, "owned_by": "replaycodegen"}
        return {"object": "list", "data": [entry]}


def _completion(number: int, model: str, body: dict[str, Any], text: str | None) -> dict[str, Any]:
    prompt_tokens = sum(
        len(str(m.get("content") or "").split())
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )
    completion_tokens = len((text or "").split())
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_replaycodegen_fake",
    }


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], *, fake: FakeOpenAIServer
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-reply (a killed recorder) is not an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeOpenAIServer/1"

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._send(404, _error_body(404, f"FakeOpenAIServer has no POST {path}"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            self._send(400, _error_body(400, f"request body is not JSON: {exc}"))
            return
        if not isinstance(body, dict):
            self._send(400, _error_body(400, "request body must be a JSON object"))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload = self.server.fake._chat(body, headers)
        self._send(status, payload)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            self._send(200, self.server.fake._models())
        else:
            self._send(404, _error_body(404, f"FakeOpenAIServer has no GET {path}"))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{status}")
        if status == 429 or status >= 500:
            # Real servers ask for seconds; a short wait keeps SDK retries fast in tests.
            self.send_header("retry-after-ms", str(RETRY_AFTER_MS))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``requests``, not stderr."""


def main(argv: list[str] | None = None) -> int:
    """``python -m replaycodegen.testing [--host H] [--port P] [--delay S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m replaycodegen.testing",
        description="Serve a fake OpenAI-compatible API; prints its base_url, runs until killed.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="IPv4 address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait per reply")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with FakeOpenAIServer(host=args.host, port=args.port, delay=args.delay) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
