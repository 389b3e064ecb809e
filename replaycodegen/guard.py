"""Block live network calls (to an LLM or anything else) while cassettes are replayed.

:func:`block_live_llm_calls` guards in two layers, both process-wide while it is active:

- **sockets** (``guard_sockets``): resolving a host that is not allowed, or connecting to
  an internet address that is not, raises :class:`LiveCallBlocked` ("live connection to
  HOST:PORT"), before any DNS query. It covers every client, imports nothing and costs a
  few attribute swaps;
- **HTTP** (vcrpy's stubs for httpx2, httpx, requests, urllib3, aiohttp and http.client,
  over an empty in-memory cassette): a request to a host that is not allowed raises
  :class:`LiveCallBlocked` inside the HTTP client, naming its method and URL. Built the
  first time a guard is entered after one of those libraries was imported (vcrpy itself
  is imported then, never when this module is), then swapped in and out per guard.

Loopback hosts are allowed by default, so local fake servers keep working. Guards nest
(the innermost one decides and names its cassette). A guard entered while another vcrpy
cassette is in place (pytest-recording's ``vcr`` marker, ``vcr.use_cassette``) steps
aside: that cassette already decides what each request gets, and stubs on top of it
would send its requests past it to the network.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from replaycodegen.errors import ReplayCodegenError
from replaycodegen.guard_sockets import SocketTripwire, foreign_vcr_cassette, is_vcr_cassette

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
"""Hosts the guard lets through unless told otherwise: local fake or model servers."""

RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all", "rewrite")

HTTP_MODULES: tuple[str, ...] = (
    "http.client", "urllib3", "requests", "httpx", "httpx2", "aiohttp", "botocore",
    "tornado", "httplib2",
)
"""Clients vcrpy's stubs cover: the HTTP layer is built once one of them is imported."""
CONNECT = "CONNECT"
"""The ``method`` of a call the socket layer blocked (its ``url`` is ``host:port``)."""

_IN_MEMORY_PATH = "<replaycodegen guard: in-memory, never saved>"
_ABSENT = object()
"""An attribute a patch adds to a class that only inherited it (removed again on exit)."""


class LiveCallBlocked(ReplayCodegenError):
    """A live HTTP call was attempted under :func:`block_live_llm_calls`.

    Attributes: ``url`` (without its query string), ``method``, ``cassette_path``,
    ``record_mode`` and ``fix`` (the advice at the end of the message).
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        cassette_path: str | None,
        record_mode: str,
        fix: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.cassette_path = cassette_path
        self.record_mode = record_mode
        self.fix = fix if fix is not None else default_fix(cassette_path)
        what = f"connection to {url}" if method == CONNECT else f"HTTP call to {method} {url}"
        super().__init__(
            f"replaycodegen: live {what} blocked in record mode "
            f"'{record_mode}' (cassette {cassette_path or 'none given'}). Replay must not "
            f"reach a live LLM. {self.fix}"
        )

    def __reduce__(self) -> tuple[Any, ...]:  # keyword-only __init__: pickle by hand
        return (
            _rebuild_blocked,
            (self.method, self.url, self.cassette_path, self.record_mode, self.fix),
        )


def _rebuild_blocked(
    method: str, url: str, cassette_path: str | None, record_mode: str, fix: str | None = None
) -> LiveCallBlocked:
    return LiveCallBlocked(
        method=method, url=url, cassette_path=cassette_path, record_mode=record_mode, fix=fix
    )


def default_fix(cassette_path: str | None) -> str:
    """The advice outside pytest: record the request with the ``record`` command."""
    target = shlex.quote(cassette_path) if cassette_path is not None else "PATH"
    # 'once' records only into a cassette that did not exist; an existing one needs more.
    exists = cassette_path is not None and os.path.exists(cassette_path)
    mode = "new_episodes" if exists else "once"
    return (
        f"To record it, run with --codegen-record-mode={mode} (pytest) or "
        f"`replaycodegen record --cassette {target} --mode {mode} --query QUERY "
        "--objective OBJECTIVE` (the request that made this call)."
    )


@dataclass(eq=False)  # guards are told apart by identity: two may be configured alike
class LiveCallGuard:
    """What an active guard is configured with, and the calls it has blocked so far.

    ``blocked`` lets a caller (the pytest plugin) notice a blocked call even when the
    code under test swallowed the exception. ``stepped_aside`` is True when another vcrpy
    cassette was in place as the guard was entered, so that cassette decides instead.
    """

    cassette_path: str | None
    record_mode: str
    allow_hosts: frozenset[str]
    blocked: list[LiveCallBlocked] = field(default_factory=list)
    fix: str | Callable[[], str] | None = None
    """The advice a blocked call's message ends with (a function: worked out when needed)."""
    stepped_aside: bool = False


@contextmanager
def block_live_llm_calls(
    cassette_path: str | os.PathLike[str] | None = None,
    record_mode: str = "none",
    *,
    allow_hosts: Iterable[str] = LOOPBACK_HOSTS,
    fix: str | Callable[[], str] | None = None,
) -> Iterator[LiveCallGuard]:
    """Make every HTTP request, name look-up and connection to a host outside
    ``allow_hosts`` raise :class:`LiveCallBlocked` (see the module docstring).

    ``cassette_path``, ``record_mode`` and ``fix`` (the advice the error ends with, or a
    function returning it) only shape the message; nothing is read or written. Pass
    ``allow_hosts=()`` to block loopback too. The stubs are process-wide (every thread)
    while the block runs. Without vcrpy (``pip install 'replaycodegen[vcr]'``) only the
    socket layer guards, and messages name the host and port instead of the URL. Inside
    another vcrpy cassette the guard steps aside (``guard.stepped_aside``): that cassette
    answers.
    """
    mode = str(getattr(record_mode, "value", record_mode))
    if mode not in RECORD_MODES:
        valid = ", ".join(RECORD_MODES)
        raise ValueError(f"block_live_llm_calls: unknown record mode {mode!r}; use one of {valid}")
    path = os.fspath(cassette_path) if cassette_path is not None else None
    hosts = frozenset(h.lower().strip("[]") for h in allow_hosts)
    guard = LiveCallGuard(path, mode, hosts, fix=fix)
    if _PATCHES is None and _vcr_cassette_in_place():
        # stubs built now would wrap that cassette's own patches: build them later
        guard.stepped_aside = True
        yield guard
        return
    if _PATCHES is None and not (_http_library_imported() and vcr_installed()):
        with _TRIPWIRE.active(guard):  # no HTTP library yet: the socket layer alone
            yield guard
        return
    with _patches().active(guard):
        if guard.stepped_aside:
            yield guard
            return
        with _TRIPWIRE.active(guard):
            yield guard


def _http_library_imported() -> bool:
    modules = sys.modules
    return any(name in modules for name in HTTP_MODULES)


_VCR_INSTALLED: bool | None = None


def vcr_installed() -> bool:
    """Whether vcrpy can be imported (asked once; without it only the socket layer guards)."""
    global _VCR_INSTALLED
    if _VCR_INSTALLED is None:
        import importlib.util

        try:
            _VCR_INSTALLED = importlib.util.find_spec("vcr") is not None
        except (ImportError, ValueError):  # ValueError: sys.modules["vcr"] is None
            _VCR_INSTALLED = False
    return _VCR_INSTALLED


def _vcr_cassette_in_place() -> bool:
    """A vcrpy cassette's stubs are in place (before the guard's own exist)."""
    return foreign_vcr_cassette(lambda: None)


class _Patches:
    """vcrpy's stubs over one in-memory cassette, built once; swapped in per guard."""

    def __init__(self, vcr: Any) -> None:
        from vcr.cassette import Cassette
        from vcr.patch import CassettePatcherBuilder

        self.guards: list[LiveCallGuard] = []
        """The guards entered and not yet left, innermost last (it decides)."""
        self.cassette = Cassette(
            _IN_MEMORY_PATH, record_mode=vcr.record_mode.RecordMode.NONE,
            before_record_request=self._screen,
        )
        self.slots: list[tuple[Any, str, Any]] = []
        """(target, attribute, stub) for every attribute vcrpy patches."""
        self.removers: list[Any] = []
        """vcrpy's ConnectionRemovers: on exit, drop stub connections left in urllib3 pools."""
        with ExitStack() as stack:  # let vcrpy build and apply its patches once, then note them
            for patcher in CassettePatcherBuilder(self.cassette).build():
                stack.enter_context(patcher)
                attribute = getattr(patcher, "attribute", None)
                target = getattr(patcher, "target", None)
                if attribute is None or target is None:
                    self.removers.append(patcher)
                else:
                    self.slots.append((target, attribute, vars(target)[attribute]))

    def _screen(self, request: Any) -> Any:
        # Runs inside vcrpy's stub before any connection: None lets the request through.
        if not self.guards:
            return None  # a stub connection outliving its guard: leave it be
        guard = self.guards[-1]
        host = (getattr(request, "host", "") or "").lower()
        if host in guard.allow_hosts:
            return None
        blocked = _blocked(guard, str(getattr(request, "method", "?")),
                           _without_query(str(getattr(request, "uri", ""))))
        guard.blocked.append(blocked)
        raise blocked

    def _foreign_cassette_in_place(self) -> bool:
        """True when another vcrpy cassette's stubs are the ones in place now."""
        for target, attribute, stub in self.slots:
            current = getattr(target, attribute, None)
            if current is stub or not isinstance(current, type):
                continue
            owner = getattr(current, "cassette", None)
            if is_vcr_cassette(owner) and owner is not self.cassette:
                return True
        return False

    @contextmanager
    def active(self, guard: LiveCallGuard) -> Iterator[None]:
        if self._foreign_cassette_in_place():
            guard.stepped_aside = True
            yield
            return
        if self.guards:  # already in place: the inner guard only changes who decides
            self.guards.append(guard)
            try:
                yield
            finally:
                self.guards.remove(guard)
            return
        saved = [(target, attribute, vars(target).get(attribute, _ABSENT))
                 for target, attribute, _ in self.slots]
        for target, attribute, stub in self.slots:
            setattr(target, attribute, stub)
        self.guards.append(guard)
        try:
            yield
        finally:
            self.guards.remove(guard)
            for target, attribute, before in reversed(saved):
                if before is _ABSENT:
                    delattr(target, attribute)
                else:
                    setattr(target, attribute, before)
            for remover in self.removers:
                remover.__exit__(None, None, None)
                getattr(remover, "_connection_pool_to_connections", {}).clear()


def _blocked(guard: LiveCallGuard, method: str, url: str) -> LiveCallBlocked:
    return LiveCallBlocked(method=method, url=url, cassette_path=guard.cassette_path,
                           record_mode=guard.record_mode,
                           fix=guard.fix() if callable(guard.fix) else guard.fix)


_PATCHES: _Patches | None = None
_TRIPWIRE = SocketTripwire(
    lambda guard, where: _blocked(guard, CONNECT, where),
    lambda: foreign_vcr_cassette(lambda: _PATCHES.cassette if _PATCHES is not None else None,
                                 recording=True),
)


def _patches() -> _Patches:
    global _PATCHES
    if _PATCHES is None:
        _PATCHES = _Patches(_import_vcr())
    return _PATCHES


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
