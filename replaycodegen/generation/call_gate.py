"""Bulk recording that behaves: bounded concurrency, a calls-per-minute limit, retries of
transient failures, counters for a progress bar, and a clean stop.

:class:`CallGate` wraps the real generator (inside a ``RecordingCodeGenerator``, so it sees
only the calls that go live):

- at most ``jobs`` calls at once, and call starts spaced so that at most ``rpm`` start in
  any minute;
- a transient failure (HTTP 408, 409, 429, 5xx, a timeout or a lost connection) is first
  retried by the ``openai`` SDK itself (``max_retries``, exponential backoff from 0.5 s to
  8 s, ``Retry-After`` honoured up to 2 minutes); when the SDK gives up, the gate waits
  (``Retry-After`` if the server sent one, else 1 s doubling, at most ``max_backoff``) and
  tries again, up to ``transient_retries`` times. A failure is never recorded: the recorder
  stores only code;
- ``calls``, ``tokens`` and ``retries`` (the SDK's and the gate's) count what happened;
- after :meth:`stop` (the first Ctrl-C), new calls raise :class:`RecordingStopped` while
  calls in flight finish and are recorded.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from replaycodegen.errors import ReplayCodegenError
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.recording import call_with_metadata
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

TRANSIENT_STATUS = frozenset({408, 409, 429})
"""Besides 5xx: the statuses the ``openai`` SDK retries, and so does the gate."""
DEFAULT_TRANSIENT_RETRIES = 3
DEFAULT_MAX_BACKOFF = 60.0


class RecordingStopped(ReplayCodegenError):
    """A call was not started because recording is stopping (Ctrl-C)."""


class RateLimiter:
    """Spaces call starts ``60 / rpm`` seconds apart (``None``: no limit); shared by tasks."""

    def __init__(self, rpm: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rpm is not None and rpm <= 0:
            raise ValueError(f"rpm must be > 0, got {rpm}")
        self.interval = 60.0 / rpm if rpm else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self.interval  # claimed before sleeping: tasks queue up in order
        if start > now:
            await self._sleep(start - now)


def transient_failure(exc: BaseException) -> tuple[bool, float | None, int]:
    """``(transient, retry_after_seconds, sdk_retries)`` for a generator failure.

    Looks through the cause chain for the ``openai`` SDK's error: a status in
    ``TRANSIENT_STATUS`` or 5xx, a timeout or a connection error is transient.
    ``sdk_retries``: how many retries the SDK took before giving up (its
    ``x-stainless-retry-count`` request header).
    """
    try:
        import openai
    except ImportError:  # pragma: no cover - the gate is used with the openai generator
        return False, None, 0
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, openai.APIStatusError):
            status = current.status_code
            response = current.response
            retries = _int(response.request.headers.get("x-stainless-retry-count"))
            transient = status in TRANSIENT_STATUS or status >= 500
            return transient, _retry_after(response.headers), retries
        if isinstance(current, openai.APIConnectionError):  # timeouts included
            return True, None, 0
        current = current.__cause__ or current.__context__
    return False, None, 0


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _retry_after(headers: Any) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            continue
    return None


class CallGate:
    """A ``CodeGenerator`` around the real one, for bulk recording (see the module docstring).

    Other attributes (``model``, ``prompt_builder``, the API key for scrubbing...) are the
    inner generator's.
    """

    def __init__(
        self,
        inner: CodeGenerator,
        *,
        jobs: int = 1,
        rpm: float | None = None,
        transient_retries: int = DEFAULT_TRANSIENT_RETRIES,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        on_change: Callable[[], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if transient_retries < 0:
            raise ValueError(f"transient_retries must be >= 0, got {transient_retries}")
        self.inner = inner
        self.jobs = jobs
        self.limiter = RateLimiter(rpm, sleep=sleep)
        self.transient_retries = transient_retries
        self.max_backoff = max_backoff
        self.on_change = on_change
        self._sleep = sleep
        self._semaphore: asyncio.Semaphore | None = None
        self.stopped = False
        self.calls = 0
        """Calls that reached the inner generator (each may hold SDK retries)."""
        self.tokens = 0
        self.retries = 0
        """Retries of transient failures: the SDK's and the gate's."""
        self.in_flight = 0
        self._last: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"CallGate({self.inner!r}, jobs={self.jobs})"

    def stop(self) -> None:
        """Refuse new calls from now on; calls in flight finish."""
        self.stopped = True
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        code, _ = await self.generate_code_with_metadata(request, error_chain)
        return code

    def get_generation_metadata(self) -> dict[str, Any]:
        return dict(self._last)

    async def generate_code_with_metadata(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> tuple[str, dict[str, Any]]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.jobs)
        attempt = 0
        while True:
            if self.stopped:
                raise RecordingStopped("recording is stopping (interrupted): this call was not "
                                       "made; re-run the same command to record it")
            async with self._semaphore:
                await self.limiter.wait()
                if self.stopped:
                    continue  # re-checked above, after waiting for a slot
                try:
                    code, meta = await self._call_once(request, error_chain)
                except Exception as exc:
                    transient, retry_after, sdk_retries = transient_failure(exc)
                    self.retries += sdk_retries
                    if not transient or attempt >= self.transient_retries:
                        self._changed()
                        raise
                    delay = self._backoff(attempt, retry_after)
                    if delay is None:
                        self._changed()
                        raise
                else:
                    self._last = meta
                    return code, meta
            attempt += 1
            self.retries += 1
            self._changed()
            await self._sleep(delay)

    async def _call_once(self, request: PythonExecutionRequest,
                         error_chain: Sequence[ErrorChainItem]) -> tuple[str, dict[str, Any]]:
        self.calls += 1
        self.in_flight += 1
        self._changed()
        try:
            code, meta = await call_with_metadata(self.inner, request, error_chain)
        finally:
            self.in_flight -= 1
        usage = meta.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
            self.tokens += usage["total_tokens"]
        retries = meta.get("retries")
        if isinstance(retries, int):
            self.retries += retries
        self._changed()
        return code, dict(meta)

    def _backoff(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next try; ``None``: the server asks for longer than
        ``max_backoff``, so give up now."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_backoff else None
        return min(self.max_backoff, 2.0 ** attempt) * (1 - 0.25 * random.random())
