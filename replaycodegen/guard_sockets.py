"""The guard's socket layer: no connection to a host outside the allowed ones, whatever
the HTTP library (or none).

While a guard is active:

- name look-ups (``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``) refuse
  a host that is not allowed, before any DNS query; reverse look-ups
  (``gethostbyaddr``, ``getnameinfo``) refuse an address that is not;
- ``socket.socket.connect`` / ``connect_ex`` refuse an internet address that is not
  allowed, and so do ``sendto`` / ``sendmsg`` given an address (UDP, TCP Fast Open);

each raising :class:`~replaycodegen.guard.LiveCallBlocked` ("live connection to
HOST:PORT"). An address that an allowed name resolved to while the innermost guard was
active is allowed too, so an allowed host by name keeps working.

It costs a few attribute swaps per guard and imports nothing. vcrpy's stubs
(``replaycodegen.guard``) sit above it once an HTTP library is imported, and name the
method and URL; this layer is what blocks a call from a library imported during the
test, or from a client vcrpy does not know. A socket is let through while another vcrpy
cassette that may record is in place (its recording is its own business), as the guard
steps aside for it.

Not covered (docs/recording.md): code that calls the C socket type directly
(``_socket.socket``, ``socket.SocketType``), sockets connected before the guard began,
and child processes started with ``subprocess`` or multiprocessing's "spawn".
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
_FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
              "getnameinfo")
"""The module's functions swapped in while a guard is active."""
_METHODS = ("connect", "connect_ex", "sendto", "sendmsg")
"""``socket.socket``'s methods swapped in while a guard is active."""


def _host(value: Any) -> str:
    """A host as the C library will see it (a ``str`` or ``bytes`` subclass cannot show
    the check another text than the one it passes on)."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", "replace")
    text = str.__str__(value) if isinstance(value, str) else str(value)
    return text.lower().strip("[]").split("%", 1)[0]


def _address(value: Any) -> tuple[str, Any] | None:
    """(host, port) of an internet socket address, else ``None`` (a Unix path)."""
    if not isinstance(value, tuple) or tuple.__len__(value) < 2:
        return None
    return _host(tuple.__getitem__(value, 0)), tuple.__getitem__(value, 1)


class SocketTripwire:
    """Swaps the socket functions in while any guard is active (innermost decides)."""

    def __init__(self, blocked: Callable[[Any, str], Exception],
                 foreign_cassette: Callable[[], bool]) -> None:
        self.guards: list[Guard] = []
        self._resolved: dict[int, set[str]] = {}
        """Per active guard (by identity): addresses its allowed names resolved to."""
        self._blocked = blocked
        self._foreign_cassette = foreign_cassette
        self._saved: list[tuple[Any, str, Any]] = []
        self._real: dict[str, Any] = {}
        """The originals, saved when the first guard began; the stubs call them."""
        self._stubs = self._make_stubs()
        """Built once."""

    def _allowed(self, host: str) -> bool:
        guard = self.guards[-1]
        return host in guard.allow_hosts or host in self._resolved.get(id(guard), ())

    def _refuse(self, where: str) -> None:
        """Raise unless another vcrpy cassette that may record is in place now."""
        if self._foreign_cassette():
            return
        guard = self.guards[-1]
        blocked = self._blocked(guard, where)
        guard.blocked.append(blocked)
        raise blocked

    def _check_name(self, host: Any, port: Any) -> None:
        if host is not None and self.guards:
            name = _host(host)
            if not self._allowed(name):
                self._refuse(f"{name}:{port}")

    def _check_address(self, family: int, address: Any) -> None:
        if self.guards and family in _INTERNET:
            found = _address(address)
            if found is not None and not self._allowed(found[0]):
                name, port = found
                self._refuse(f"[{name}]:{port}" if ":" in name else f"{name}:{port}")

    def _make_stubs(self) -> dict[str, Any]:
        tripwire, real = self, self._real

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            tripwire._check_name(host, port)
            found = real["getaddrinfo"](host, port, *args, **kwargs)
            if tripwire.guards and host is not None:
                noted = tripwire._resolved.setdefault(id(tripwire.guards[-1]), set())
                noted.update(_host(info[4][0]) for info in found if info[0] in _INTERNET)
            return found

        def gethostbyname(host: Any) -> Any:
            tripwire._check_name(host, "-")
            return real["gethostbyname"](host)

        def gethostbyname_ex(host: Any) -> Any:
            tripwire._check_name(host, "-")
            return real["gethostbyname_ex"](host)

        def gethostbyaddr(address: Any) -> Any:
            tripwire._check_name(address, "-")
            return real["gethostbyaddr"](address)

        def getnameinfo(address: Any, flags: int) -> Any:
            found = _address(address)
            if found is not None:
                tripwire._check_name(*found)
            return real["getnameinfo"](address, flags)

        def connect(sock: socket.socket, address: Any) -> None:
            tripwire._check_address(sock.family, address)
            real["connect"](sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            tripwire._check_address(sock.family, address)
            result: int = real["connect_ex"](sock, address)
            return result

        def sendto(sock: socket.socket, data: Any, *rest: Any) -> int:
            if rest:  # (address) or (flags, address)
                tripwire._check_address(sock.family, rest[-1])
            sent: int = real["sendto"](sock, data, *rest)
            return sent

        def sendmsg(sock: socket.socket, buffers: Any, *rest: Any) -> int:
            if len(rest) >= 3 and rest[2] is not None:  # (ancdata, flags, address)
                tripwire._check_address(sock.family, rest[2])
            sent: int = real["sendmsg"](sock, buffers, *rest)
            return sent

        return {"getaddrinfo": getaddrinfo, "gethostbyname": gethostbyname,
                "gethostbyname_ex": gethostbyname_ex, "gethostbyaddr": gethostbyaddr,
                "getnameinfo": getnameinfo, "connect": connect, "connect_ex": connect_ex,
                "sendto": sendto, "sendmsg": sendmsg}

    def enter(self, guard: Guard) -> None:
        """Put the stubs in place (the first guard) and make ``guard`` the one deciding."""
        if not self.guards:
            cls = socket.socket
            self._saved = []
            for name in _FUNCTIONS:
                self._real[name] = getattr(socket, name)
                self._saved.append((socket, name, getattr(socket, name)))
            for name in _METHODS:
                if hasattr(cls, name):
                    self._real[name] = getattr(cls, name)
                    self._saved.append((cls, name, vars(cls).get(name, _ABSENT)))
            for target, name, _before in self._saved:
                setattr(target, name, self._stubs[name])
        self.guards.append(guard)

    def leave(self, guard: Guard) -> None:
        """The end of ``guard``; the originals go back with the last one."""
        for index in range(len(self.guards) - 1, -1, -1):
            if self.guards[index] is guard:  # by identity: two guards may be equal
                del self.guards[index]
                break
        self._resolved.pop(id(guard), None)
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


def foreign_vcr_cassette(own: Callable[[], Any], *, recording: bool = False) -> bool:
    """True when a vcrpy cassette other than ``own()`` has its stubs in place (with
    ``recording``: only one that may record, not a write-protected one). Only vcrpy's
    own stub classes count: a mock of ``http.client.HTTPConnection`` is not a cassette."""
    client = sys.modules.get("http.client")
    if client is None:
        return False
    connection = getattr(client, "HTTPConnection", None)
    if not isinstance(connection, type):
        return False
    owner = getattr(connection, "cassette", None)
    if not is_vcr_cassette(owner) or owner is own():
        return False
    return not (recording and getattr(owner, "write_protected", False) is True)


def is_vcr_cassette(owner: Any) -> bool:
    """``owner`` is a vcrpy cassette (not a mock, nor anything else with the attribute)."""
    return owner is not None and type(owner).__module__.startswith("vcr.")
