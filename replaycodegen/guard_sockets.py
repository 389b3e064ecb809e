"""The guard's socket layer: no connection to a host outside the allowed ones, whatever
the HTTP library (or none).

While a guard is active, ``socket.getaddrinfo`` refuses to resolve a host that is not
allowed (before any DNS query) and ``socket.socket.connect`` / ``connect_ex`` refuse an
internet address that is not allowed, each raising :class:`~replaycodegen.guard.LiveCallBlocked`
("live connection to HOST:PORT"). An address that an allowed name resolved to while
the guard was active is allowed too, so an allowed host by name keeps working.

It costs a few attribute swaps per guard and imports nothing. vcrpy's stubs
(``replaycodegen.guard``) sit above it once an HTTP library is imported, and name the
method and URL; this layer is what blocks a call from a library imported during the
test, or from a client vcrpy does not know. A socket is let through while another vcrpy
cassette is in place (it records: its own business), as the guard steps aside for it.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Guard(Protocol):
    """What this layer needs of a guard (``replaycodegen.guard.LiveCallGuard``)."""

    allow_hosts: frozenset[str]
    blocked: list[Any]

_INTERNET = (socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET))
_ABSENT = object()


def _host(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).lower().strip("[]").split("%", 1)[0]


class SocketTripwire:
    """Swaps the three socket functions in while any guard is active (innermost decides)."""

    def __init__(self, blocked: Callable[[Any, str], Exception],
                 foreign_cassette: Callable[[], bool]) -> None:
        self.guards: list[Guard] = []
        self._resolved: set[str] = set()
        """Addresses that allowed host names resolved to while a guard was active."""
        self._blocked = blocked
        self._foreign_cassette = foreign_cassette
        self._saved: list[tuple[Any, str, Any]] = []
        self._resolve: Any = socket.getaddrinfo
        self._connect: Any = socket.socket.connect
        self._connect_ex: Any = socket.socket.connect_ex
        self._stubs = self._make_stubs()
        """Built once; they call the originals saved when the first guard began."""

    def _allowed(self, host: str) -> bool:
        guard = self.guards[-1]
        return host in guard.allow_hosts or host in self._resolved

    def _refuse(self, where: str) -> None:
        """Raise unless another vcrpy cassette is in place now (it decides)."""
        if self._foreign_cassette():
            return
        guard = self.guards[-1]
        blocked = self._blocked(guard, where)
        guard.blocked.append(blocked)
        raise blocked

    def _make_stubs(self) -> dict[str, Any]:
        tripwire = self

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            resolve = tripwire._resolve
            if host is not None and tripwire.guards:
                name = _host(host)
                if not tripwire._allowed(name):
                    tripwire._refuse(f"{name}:{port}")
                    return resolve(host, port, *args, **kwargs)
                found = resolve(host, port, *args, **kwargs)
                tripwire._resolved.update(_host(info[4][0]) for info in found
                                          if info[0] in _INTERNET)
                return found
            return resolve(host, port, *args, **kwargs)

        def check(sock: socket.socket, address: Any) -> None:
            if tripwire.guards and sock.family in _INTERNET and isinstance(address, tuple):
                name = _host(address[0])
                if not tripwire._allowed(name):
                    shown = f"[{name}]" if ":" in name else name
                    tripwire._refuse(f"{shown}:{address[1]}")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            tripwire._connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            result: int = tripwire._connect_ex(sock, address)
            return result

        return {"getaddrinfo": getaddrinfo, "connect": connect, "connect_ex": connect_ex}

    def enter(self, guard: Guard) -> None:
        """Put the stubs in place (the first guard) and make ``guard`` the one deciding."""
        if not self.guards:
            cls = socket.socket
            self._resolve, self._connect, self._connect_ex = (
                socket.getaddrinfo, cls.connect, cls.connect_ex)
            self._saved = [(socket, "getaddrinfo", socket.getaddrinfo),
                           (cls, "connect", vars(cls).get("connect", _ABSENT)),
                           (cls, "connect_ex", vars(cls).get("connect_ex", _ABSENT))]
            stubs = self._stubs
            socket.getaddrinfo = stubs["getaddrinfo"]
            cls.connect = stubs["connect"]  # type: ignore[method-assign]
            cls.connect_ex = stubs["connect_ex"]  # type: ignore[method-assign]
        self.guards.append(guard)

    def leave(self, guard: Guard) -> None:
        """The end of ``guard``; the originals go back with the last one."""
        self.guards.remove(guard)
        if not self.guards:
            for target, attribute, before in reversed(self._saved):
                if before is _ABSENT:
                    delattr(target, attribute)
                else:
                    setattr(target, attribute, before)
            self._saved = []
            self._resolved.clear()

    @contextmanager
    def active(self, guard: Guard) -> Iterator[None]:
        self.enter(guard)
        try:
            yield
        finally:
            self.leave(guard)


def foreign_vcr_cassette(own: Callable[[], Any]) -> bool:
    """True when a vcrpy cassette other than ``own()`` has its stubs in place."""
    client = sys.modules.get("http.client")
    if client is None:
        return False
    owner = getattr(getattr(client, "HTTPConnection", None), "cassette", None)
    return owner is not None and owner is not own()
