"""The service's side of the control channel: the simulated control system lives here.

Generated code reaches the control system only through the socket the runner hands it
(``replaycodegen.runtime`` is the other end). The service answers every read and decides
every write: without approval a write is refused and recorded as refused, whatever the
code did to its own process, environment or files. The code's outcome (results or error)
comes back over the same socket, once. Every frame is size-capped, and so is the number
of requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from replaycodegen import runtime
from replaycodegen.executor.results import ChannelWrite, RefusedChannelWrite

__all__ = ["ChannelSession", "ControlSystem", "serve_channel"]

_INT_DIGITS_LIMIT = 4300  # Python's default int/str conversion limit


class IntTooLarge(ValueError):
    """The outcome holds an integer literal longer than ``_INT_DIGITS_LIMIT`` digits."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"an int of {digits} digits")
        self.digits = digits


@dataclass
class ControlSystem:
    """The channel values of one execution and what happened to them."""

    channels: dict[str, Any]
    writes_allowed: bool
    writes: list[ChannelWrite] = field(default_factory=list)
    refused: list[RefusedChannelWrite] = field(default_factory=list)

    def answer(self, request: object) -> dict[str, Any]:
        """The reply to one request: ``{"ok": True, "value": ...}`` or an error."""
        if not isinstance(request, dict):
            return _error("ValueError", "a control-system request must be a JSON object")
        op = request.get("op")
        if op == "read":
            return self._read(request.get("channel"))
        if op == "write":
            return self._write(request.get("values"))
        return _error("ValueError", f"unknown control-system request {op!r}")

    def _read(self, name: object) -> dict[str, Any]:
        if not isinstance(name, str):
            return _error("TypeError", f"a channel name must be a string, got {name!r}")
        if name not in self.channels:
            return _error("KeyError", runtime.unknown_channel_message(name, self.channels))
        return {"ok": True, "value": self.channels[name]}

    def _write(self, values: object) -> dict[str, Any]:
        if not isinstance(values, dict) or not values:
            return _error("TypeError", "a write names at least one channel and its value")
        if not self.writes_allowed:
            self.refused.extend(RefusedChannelWrite(str(n), v) for n, v in values.items())
            names = ", ".join(repr(n) for n in values)
            return _error(
                "PermissionError",
                f"write_channel({names}, ...) refused: this code was not approved for "
                "control-system writes (static analysis found no write, so nobody was "
                "asked). Call write_channel directly by name so the analyser sees the write.",
            )
        for name in values:
            if name not in self.channels:
                return _error("KeyError", runtime.unknown_channel_message(name, self.channels))
        for name, value in values.items():
            self.writes.append(ChannelWrite(name, value, self.channels[name]))
            self.channels[name] = value
        return {"ok": True, "value": None}

    def state_document(self) -> dict[str, Any]:
        """What ``control_system.json`` holds after the run (an output, never an input)."""
        return {
            "channels": self.channels,
            "writes": [
                {"channel": w.channel, "value": w.value, "previous": w.previous}
                for w in self.writes
            ],
            "refused_writes": [{"channel": r.channel, "value": r.value} for r in self.refused],
        }


@dataclass
class ChannelSession:
    """One execution's conversation: the control system, the outcome, what went wrong."""

    control: ControlSystem
    outcome: dict[str, Any] | None = None
    outcome_problem: str | None = None
    protocol_problem: str | None = None
    requests: int = 0
    outcome_received: asyncio.Event = field(default_factory=asyncio.Event)


async def serve_channel(sock: socket.socket, session: ChannelSession) -> None:
    """Answer requests on ``sock`` until the outcome arrives, the code hangs up, or it
    breaks the protocol (the reason is kept in ``session.protocol_problem``)."""
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        while True:
            try:
                header = await reader.readexactly(runtime.FRAME_HEADER.size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            kind, size = runtime.FRAME_HEADER.unpack(header)
            problem = _frame_problem(kind, size, session)
            if problem is not None:
                session.protocol_problem = problem
                await _send(writer, _error("RuntimeError", f"control channel closed: {problem}"))
                return
            try:
                body = await reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if kind == runtime.OUTCOME_FRAME:
                _accept_outcome(body, session)
                session.outcome_received.set()
                return
            session.requests += 1
            try:
                request = json.loads(body)
            except (ValueError, RecursionError):
                session.protocol_problem = "a request that is not valid JSON"
                await _send(writer, _error("ValueError", session.protocol_problem))
                return
            await _send(writer, session.control.answer(request))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _frame_problem(kind: bytes, size: int, session: ChannelSession) -> str | None:
    if kind == runtime.OUTCOME_FRAME:
        if size > runtime.MAX_OUTCOME_BYTES:
            return f"an outcome of {size} bytes is over {runtime.MAX_OUTCOME_BYTES}"
        return None
    if kind != runtime.REQUEST_FRAME:
        return f"an unknown frame kind {kind!r}"
    if size > runtime.MAX_REQUEST_BYTES:
        return f"a request of {size} bytes is over {runtime.MAX_REQUEST_BYTES}"
    if session.requests >= runtime.MAX_REQUESTS:
        return f"more than {runtime.MAX_REQUESTS} control-system requests in one run"
    return None


def _accept_outcome(body: bytes, session: ChannelSession) -> None:
    try:
        outcome = json.loads(body, parse_int=_bounded_int)
    except IntTooLarge as exc:
        session.outcome_problem = (
            f"results hold an int of {exc.digits} digits, too large to serialise "
            f"(Python's int/str limit is {_INT_DIGITS_LIMIT} digits)"
        )
        return
    except (ValueError, RecursionError) as exc:
        session.outcome_problem = f"the outcome is not valid JSON ({type(exc).__name__})"
        return
    if isinstance(outcome, dict):
        session.outcome = outcome
    else:
        session.outcome_problem = "the outcome is not a JSON object"


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > _INT_DIGITS_LIMIT:
        raise IntTooLarge(digits)
    return int(text)


async def _send(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
    try:
        frame = runtime.encode_frame(runtime.REQUEST_FRAME, answer, runtime.MAX_OUTCOME_BYTES)
    except (TypeError, ValueError):
        frame = runtime.encode_frame(
            runtime.REQUEST_FRAME,
            _error("ValueError", "the answer cannot be encoded"),
            runtime.MAX_REQUEST_BYTES,
        )
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(frame)
        await writer.drain()


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": error_type, "message": message}
