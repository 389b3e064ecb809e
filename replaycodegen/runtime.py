"""The simulated control system that generated code talks to: ``read_channel``, ``write_channel``.

This module runs inside the subprocess that executes generated code, so it stays tiny and
imports nothing but the standard library. The channel values live in a JSON file of the
execution folder: the executor seeds it from ``control_system.channels`` and points
``REPLAYCODEGEN_CONTROL_STATE`` at it; without that variable the file is
``control_system.json`` in the current directory, created from ``DEFAULT_CHANNELS``.
Every write is recorded in the same file, so the executor can report it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

STATE_FILE_ENV = "REPLAYCODEGEN_CONTROL_STATE"
WRITES_ALLOWED_ENV = "REPLAYCODEGEN_WRITES_ALLOWED"
STATE_FILE_NAME = "control_system.json"

DEFAULT_CHANNELS: dict[str, Any] = {
    "BEAM:CURRENT": 500.0,
    "BEAM:ENERGY": 3.0,
    "MAGNET:QF1:CURRENT": 120.0,
    "MAGNET:QF1:SETPOINT": 120.0,
    "VACUUM:PRESSURE": 1e-9,
}

__all__ = ["DEFAULT_CHANNELS", "read_channel", "write_channel"]

_lock = threading.Lock()


def read_channel(name: str) -> Any:
    """Return the current value of channel ``name``; KeyError names the known channels."""
    with _lock:
        channels = _load()["channels"]
        _require_known(name, channels)
        return channels[name]


def write_channel(name: str, value: Any) -> None:
    """Set channel ``name`` to ``value`` (JSON-serialisable) and record the write.

    Raises PermissionError when the executor did not approve this code for writes.
    """
    if os.environ.get(WRITES_ALLOWED_ENV, "1") != "1":
        raise PermissionError(
            f"write_channel({name!r}, ...) refused: this code was not approved for "
            "control-system writes (static analysis found no write, so nobody was asked). "
            "Call write_channel directly by name so the analyser sees the write."
        )
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"write_channel({name!r}, ...): value {value!r} is not JSON-serialisable; "
            "write a number, string, bool, list or dict"
        ) from exc
    with _lock:
        state = _load()
        channels = state["channels"]
        _require_known(name, channels)
        previous = channels[name]
        channels[name] = value
        state["writes"].append({"channel": name, "value": value, "previous": previous})
        _save(state)


def _state_path() -> Path:
    configured = os.environ.get(STATE_FILE_ENV)
    return Path(configured) if configured else Path.cwd() / STATE_FILE_NAME


def _load() -> dict[str, Any]:
    path = _state_path()
    if not path.exists():
        return {"channels": dict(DEFAULT_CHANNELS), "writes": []}
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    state.setdefault("channels", {})
    state.setdefault("writes", [])
    return state


def _save(state: dict[str, Any]) -> None:
    path = _state_path()
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(partial, path)


def _require_known(name: str, channels: dict[str, Any]) -> None:
    if name not in channels:
        known = ", ".join(sorted(channels)) or "(none)"
        raise KeyError(
            f"unknown channel {name!r}; known channels: {known}. "
            "Configure more under configurable.control_system.channels."
        )
