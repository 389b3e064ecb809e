"""Block live HTTP calls (to an LLM or anything else) while cassettes are replayed.

:func:`block_live_llm_calls` installs vcrpy's patches for httpx2, httpx, requests, urllib3,
aiohttp and http.client with an empty, in-memory cassette. A request to a host that is not
allowed raises :class:`LiveCallBlocked` inside the HTTP client, before any DNS lookup or
connection. Loopback hosts are allowed by default, so local fake servers keep working.
vcrpy is imported when the guard is entered, never when this module is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from replaycodegen.errors import ReplayCodegenError

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
"""Hosts the guard lets through unless told otherwise: local fake or model servers."""

RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all", "rewrite")

_IN_MEMORY_PATH = "<replaycodegen guard: in-memory, never saved>"


class LiveCallBlocked(ReplayCodegenError):
    """A live HTTP call was attempted under :func:`block_live_llm_calls`.

    Attributes: ``url`` (without its query string), ``method``, ``cassette_path`` and
    ``record_mode``.
    """

    def __init__(
        self, *, method: str, url: str, cassette_path: str | None, record_mode: str
    ) -> None:
        self.method = method
        self.url = url
        self.cassette_path = cassette_path
        self.record_mode = record_mode
        super().__init__(_blocked_message(method, url, cassette_path, record_mode))

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only __init__: pickle by hand
        return (_rebuild_blocked, (self.method, self.url, self.cassette_path, self.record_mode))


def _rebuild_blocked(
    method: str, url: str, cassette_path: str | None, record_mode: str
) -> LiveCallBlocked:
    return LiveCallBlocked(
        method=method, url=url, cassette_path=cassette_path, record_mode=record_mode
    )


@dataclass
class LiveCallGuard:
    """What an active guard is configured with, and the calls it has blocked so far.

    ``blocked`` lets a caller (the pytest plugin) notice a blocked call even when the
    code under test swallowed the exception.
    """

    cassette_path: str | None
    record_mode: str
    allow_hosts: frozenset[str]
    blocked: list[LiveCallBlocked] = field(default_factory=list)


@contextmanager
def block_live_llm_calls(
    cassette_path: str | os.PathLike[str] | None = None,
    record_mode: str = "none",
    *,
    allow_hosts: Iterable[str] = LOOPBACK_HOSTS,
) -> Iterator[LiveCallGuard]:
    """Make every HTTP request to a host outside ``allow_hosts`` raise :class:`LiveCallBlocked`.

    ``cassette_path`` and ``record_mode`` only shape the error message (which cassette is
    being replayed and in which mode); nothing is read or written. Pass ``allow_hosts=()``
    to block loopback too. The patches are process-wide (every thread) while the block
    runs; vcrpy (``pip install 'replaycodegen[vcr]'``) must be installed.
    """
    mode = str(getattr(record_mode, "value", record_mode))
    if mode not in RECORD_MODES:
        valid = ", ".join(RECORD_MODES)
        raise ValueError(f"block_live_llm_calls: unknown record mode {mode!r}; use one of {valid}")
    path = os.fspath(cassette_path) if cassette_path is not None else None
    guard = LiveCallGuard(path, mode, frozenset(h.lower().strip("[]") for h in allow_hosts))
    vcr = _import_vcr()

    def screen(request: Any) -> Any:
        # Runs inside vcrpy's stub before any connection: None lets the request through.
        host = (getattr(request, "host", "") or "").lower()
        if host in guard.allow_hosts:
            return None
        blocked = LiveCallBlocked(
            method=str(getattr(request, "method", "?")),
            url=_without_query(str(getattr(request, "uri", ""))),
            cassette_path=guard.cassette_path,
            record_mode=guard.record_mode,
        )
        guard.blocked.append(blocked)
        raise blocked

    recorder = vcr.VCR(record_mode="none", before_record_request=screen)
    recorder.register_persister(_NothingPersister)
    with recorder.use_cassette(_IN_MEMORY_PATH):
        yield guard


class _NothingPersister:
    """A vcrpy persister with nothing to load and nowhere to save."""

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        return [], []

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: Any, serializer: Any) -> None:
        return None


def _import_vcr() -> Any:
    try:
        import vcr
    except ImportError as exc:
        raise ReplayCodegenError(
            "block_live_llm_calls needs vcrpy: pip install 'replaycodegen[vcr]'"
        ) from exc
    return vcr


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _blocked_message(method: str, url: str, cassette_path: str | None, record_mode: str) -> str:
    cassette = cassette_path if cassette_path is not None else "none given"
    target = cassette_path if cassette_path is not None else "PATH"
    # 'once' records only into a cassette that did not exist; an existing one needs more.
    exists = cassette_path is not None and os.path.exists(cassette_path)
    mode = "new_episodes" if exists else "once"
    return (
        f"replaycodegen: live HTTP call to {method} {url} blocked in record mode "
        f"'{record_mode}' (cassette {cassette}). Replay must not reach a live LLM. "
        f"To record it, run with --codegen-record-mode={mode} (pytest) or "
        f"`replaycodegen record --cassette {target} --mode {mode}`."
    )
