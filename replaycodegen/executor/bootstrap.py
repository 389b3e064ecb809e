"""Runs generated code inside the execution subprocess; the runner starts it as a script.

Standard library only. It executes ``generated_code.py`` from the current directory (the
execution folder) with ``read_channel`` and ``write_channel`` predefined, then writes
``outcome.json``: the ``results`` dict as JSON, or the exception that ended the code.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

CODE_FILE_NAME = "generated_code.py"
OUTCOME_FILE_NAME = "outcome.json"
RESULTS_NAME = "results"
_MAX_DEPTH = 100


def to_jsonable(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as plain JSON data; anything JSON cannot hold degrades to its ``repr``.

    Arrays and numpy scalars go through ``tolist()``, dates through ``isoformat()``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if _depth > _MAX_DEPTH or id(value) in _seen:
        return _safe_repr(value)
    seen = _seen | {id(value)}
    if isinstance(value, dict):
        return {_json_key(k): to_jsonable(v, _depth + 1, seen) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v, _depth + 1, seen) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return to_jsonable(tolist(), _depth + 1, seen)
        except Exception:
            return _safe_repr(value)
    return _safe_repr(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return _safe_repr(key)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def _error_outcome(exc: BaseException) -> dict[str, Any]:
    # Skip this module's own frame: the traceback starts in the generated code.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    lines = traceback.format_exception(type(exc), exc, tb)
    return {
        "status": "error",
        "error_type": type(exc).__name__,
        "message": _safe_str(exc),
        "traceback": "".join(lines),
    }


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} whose message cannot be shown>"


def _results_outcome(namespace: dict[str, Any]) -> dict[str, Any]:
    if RESULTS_NAME not in namespace:
        return {"status": "missing_results"}
    results = namespace[RESULTS_NAME]
    if not isinstance(results, dict):
        return {"status": "invalid_results", "type": type(results).__name__}
    return {"status": "ok", "results": to_jsonable(results)}


def _predefined_names() -> dict[str, Any]:
    try:
        from replaycodegen.runtime import read_channel, write_channel
    except ImportError:  # run by hand without the package on the path
        return {}
    return {"read_channel": read_channel, "write_channel": write_channel}


def run(folder: Path) -> dict[str, Any]:
    """Execute the folder's code and return the outcome (also what ``main`` writes)."""
    code_path = folder / CODE_FILE_NAME
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__file__": str(code_path),
        "__builtins__": builtins,
        **_predefined_names(),
    }
    started = time.perf_counter()
    try:
        code = compile(code_path.read_text(encoding="utf-8"), str(code_path), "exec")
        exec(code, namespace)
        outcome = _results_outcome(namespace)
    except SystemExit as exc:
        outcome = _results_outcome(namespace) if exc.code in (None, 0) else _error_outcome(exc)
    except BaseException as exc:
        outcome = _error_outcome(exc)
    outcome["execution_time"] = time.perf_counter() - started
    return outcome


def main() -> int:
    folder = Path.cwd()
    outcome = run(folder)
    partial = folder / (OUTCOME_FILE_NAME + ".partial")
    partial.write_text(json.dumps(outcome), encoding="utf-8")
    os.replace(partial, folder / OUTCOME_FILE_NAME)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    # Started by path, so sys.path[0] is this package's directory; its modules
    # (config, runner, ...) must not shadow the generated code's imports.
    sys.path[0] = os.getcwd()
    sys.exit(main())
