"""The simulated control system that generated code talks to: ``read_channel``,
``write_channel`` and ``write_channels``.

This module runs inside the process that executes generated code, so it stays small and
imports nothing but the standard library.

Inside the executor, the control system lives in the *service* process. The executor
hands the code one end of a socket pair (its descriptor number is in
``REPLAYCODEGEN_CONTROL_FD``); every read and write is a request over it, and the service
answers each one and decides every write. Nothing in this process (its environment, its
files, this module's functions or variables) can grant a write the service refused.

Run by hand, without that descriptor, the module keeps a local JSON file instead
(``REPLAYCODEGEN_CONTROL_STATE``, else ``control_system.json`` in the current directory,
created from ``DEFAULT_CHANNELS``), so someone playing with code in a folder sees the same
API. That mode has no approval: it is nobody's control system.

Frames on the socket: one kind byte (``R`` request, ``O`` outcome), a 4-byte big-endian
length, then that many bytes of UTF-8 JSON. The service refuses frames over the caps below.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONTROL_FD_ENV = "REPLAYCODEGEN_CONTROL_FD"
STATE_FILE_ENV = "REPLAYCODEGEN_CONTROL_STATE"
STATE_FILE_NAME = "control_system.json"

FRAME_HEADER = struct.Struct(">cI")
REQUEST_FRAME = b"R"
OUTCOME_FRAME = b"O"
MAX_REQUEST_BYTES = 1024 * 1024
MAX_OUTCOME_BYTES = 64 * 1024 * 1024
MAX_REQUESTS = 100_000

DEFAULT_CHANNELS: dict[str, Any] = {
    "BEAM:CURRENT": 500.0,
    "BEAM:ENERGY": 3.0,
    "MAGNET:QF1:CURRENT": 120.0,
    "MAGNET:QF1:SETPOINT": 120.0,
    "VACUUM:PRESSURE": 1e-9,
}

__all__ = ["DEFAULT_CHANNELS", "read_channel", "write_channel", "write_channels"]

_ERRORS: dict[str, type[Exception]] = {
    "KeyError": KeyError,
    "PermissionError": PermissionError,
    "TypeError": TypeError,
    "ValueError": ValueError,
}
_lock = threading.Lock()
_backend: _SocketBackend | _FileBackend | None = None


def read_channel(name: str) -> Any:
    """Return the current value of channel ``name``; KeyError names the known channels."""
    return _get_backend().read(name)


def write_channel(name: str, value: Any) -> None:
    """Set channel ``name`` to ``value`` (JSON-serialisable); the write is recorded.

    Raises PermissionError when the executor did not approve this code for writes.
    """
    write_channels({name: value})


def write_channels(values: Mapping[str, Any]) -> None:
    """Set several channels in one call: ``write_channels({"A": 1.0, "B": 2.0})``.

    Each write is approved and recorded like ``write_channel``; nothing is written when
    one name is unknown or the executor refuses the writes.
    """
    if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
        raise TypeError(
            f"write_channels() takes a mapping of channel names to values, got {values!r}"
        )
    for name, value in values.items():
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"write_channel({name!r}, ...): value {value!r} is not JSON-serialisable; "
                "write a number, string, bool, list or dict"
            ) from exc
    if values:
        _get_backend().write(dict(values))


def _get_backend() -> _SocketBackend | _FileBackend:
    global _backend
    with _lock:
        if _backend is None:
            fd = os.environ.get(CONTROL_FD_ENV)
            _backend = _SocketBackend(int(fd)) if fd else _FileBackend()
        return _backend


class FrameTooLarge(ValueError):
    """A message is over its frame cap; ``size`` is its length in bytes."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a control-system message of {size} bytes is over {limit}")
        self.size = size


def encode_frame(kind: bytes, message: Any, limit: int) -> bytes:
    """One frame holding ``message`` as JSON; ``FrameTooLarge`` over ``limit`` bytes."""
    body = json.dumps(message, allow_nan=True).encode("utf-8")
    if len(body) > limit:
        raise FrameTooLarge(len(body), limit)
    return FRAME_HEADER.pack(kind, len(body)) + body


class _SocketBackend:
    """Requests to the executor's service over the inherited socket."""

    def __init__(self, fd: int) -> None:
        self._socket = socket.socket(fileno=fd)
        self._lock = threading.Lock()

    def read(self, name: str) -> Any:
        return self._request({"op": "read", "channel": name})

    def write(self, values: dict[str, Any]) -> None:
        self._request({"op": "write", "values": values})

    def report_outcome(self, outcome: dict[str, Any]) -> None:
        with self._lock:
            self._socket.sendall(encode_frame(OUTCOME_FRAME, outcome, MAX_OUTCOME_BYTES))

    def _request(self, message: dict[str, Any]) -> Any:
        frame = encode_frame(REQUEST_FRAME, message, MAX_REQUEST_BYTES)
        with self._lock:
            try:
                self._socket.sendall(frame)
                answer = self._receive()
            except OSError as exc:
                raise ConnectionError(
                    f"the executor's control-system channel is closed ({exc}); "
                    "the service stopped answering this code"
                ) from exc
        if answer.get("ok"):
            return answer.get("value")
        error = _ERRORS.get(str(answer.get("error")), RuntimeError)
        raise error(str(answer.get("message", "the control system refused the request")))

    def _receive(self) -> dict[str, Any]:
        header = self._read_exactly(FRAME_HEADER.size)
        _, size = FRAME_HEADER.unpack(header)
        answer = json.loads(self._read_exactly(size))
        return answer if isinstance(answer, dict) else {}

    def _read_exactly(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._socket.recv(size - len(chunks))
            if not chunk:
                raise ConnectionResetError("the executor closed the channel")
            chunks += chunk
        return bytes(chunks)


class _FileBackend:
    """Run by hand: the channel state in a JSON file, every write allowed and recorded."""

    def read(self, name: str) -> Any:
        channels = self._load()["channels"]
        _require_known(name, channels)
        return channels[name]

    def write(self, values: dict[str, Any]) -> None:
        state = self._load()
        channels = state["channels"]
        for name in values:
            _require_known(name, channels)
        for name, value in values.items():
            state["writes"].append({"channel": name, "value": value, "previous": channels[name]})
            channels[name] = value
        self._save(state)

    @staticmethod
    def _path() -> Path:
        configured = os.environ.get(STATE_FILE_ENV)
        return Path(configured) if configured else Path.cwd() / STATE_FILE_NAME

    def _load(self) -> dict[str, Any]:
        path = self._path()
        if not path.exists():
            return {"channels": dict(DEFAULT_CHANNELS), "writes": []}
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        state.setdefault("channels", {})
        state.setdefault("writes", [])
        return state

    def _save(self, state: dict[str, Any]) -> None:
        path = self._path()
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(partial, path)


def _require_known(name: str, channels: Mapping[str, Any]) -> None:
    if name not in channels:
        raise KeyError(unknown_channel_message(name, channels))


def unknown_channel_message(name: str, channels: Mapping[str, Any]) -> str:
    """The KeyError text for an unknown channel (the service sends the same)."""
    known = ", ".join(sorted(channels)) or "(none)"
    return (
        f"unknown channel {name!r}; known channels: {known}. "
        "Configure more under configurable.control_system.channels."
    )


def _outcome_reporter() -> _SocketBackend | None:
    """The channel the bootstrap reports the outcome on, taken before the code runs (so
    code that swaps this module's backend cannot lose its own outcome); None by hand."""
    backend = _get_backend()
    return backend if isinstance(backend, _SocketBackend) else None
