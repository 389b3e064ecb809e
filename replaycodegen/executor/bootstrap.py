"""Runs generated code inside the execution process; the runner starts it as a script.

Standard library only. It executes ``generated_code.py`` from the current directory (the
execution folder) with ``read_channel``, ``write_channel`` and ``write_channels``
predefined, saves the matplotlib figures the code left open as PNGs, and sends the
outcome (the ``results`` dict as JSON, or the exception that ended the code) to the
executor over the control channel. Run by hand, without the executor, it writes
``outcome.json`` instead.
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
FIGURE_PREFIX = "figure-"
MAX_FIGURES = 20
_MAX_DEPTH = 100
_LARGE_INT_BITS = 14_000  # about 4,200 digits: below Python's int/str limit of 4,300


class Unserialisable(ValueError):
    """A value in ``results`` cannot become JSON; ``where`` is its path, e.g. ``['x'][0]``."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = ""


def to_jsonable(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as plain JSON data; anything JSON cannot hold degrades to its ``repr``.

    Arrays and numpy scalars go through ``tolist()``, dates through ``isoformat()``. An
    int too large to print (Python's int/str limit) raises ``Unserialisable``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _checked_int(value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if _depth > _MAX_DEPTH or id(value) in _seen:
        return _safe_repr(value)
    seen = _seen | {id(value)}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            with _located(f"[{_safe_repr(key)}]"):
                out[_json_key(key)] = to_jsonable(item, _depth + 1, seen)
        return out
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            with _located(f"[{index}]"):
                items.append(to_jsonable(item, _depth + 1, seen))
        return items
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            converted = tolist()
        except Exception:
            return _safe_repr(value)
        return to_jsonable(converted, _depth + 1, seen)
    return _safe_repr(value)


@contextlib.contextmanager
def _located(step: str) -> Any:
    try:
        yield
    except Unserialisable as exc:
        exc.where = step + exc.where
        raise


def _checked_int(value: int) -> int:
    if value.bit_length() > _LARGE_INT_BITS:
        try:
            str(value)
        except ValueError:
            digits = int(value.bit_length() * math.log10(2)) + 1
            raise Unserialisable(
                f"is an int too large to serialise (about {digits} digits; Python's int/str "
                f"limit is {sys.get_int_max_str_digits()}): return it as str() or a float"
            ) from None
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | float):
        return json.dumps(key)
    if isinstance(key, int):
        return str(_checked_int(key))
    return _safe_repr(key)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def _error_outcome(exc: BaseException) -> dict[str, Any]:
    # Skip this module's own frame: the traceback starts in the generated code.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    try:
        lines = traceback.format_exception(type(exc), exc, tb)
    except Exception:
        lines = [f"{type(exc).__name__}: <the traceback cannot be shown>\n"]
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
    try:
        return {"status": "ok", "results": to_jsonable(results)}
    except Unserialisable as exc:
        return {"status": "unserialisable_results", "where": exc.where, "problem": exc.problem}
    except RecursionError:
        return {"status": "unserialisable_results", "where": "", "problem": "is nested too deeply"}


def _predefined_names() -> dict[str, Any]:
    try:
        from replaycodegen.runtime import read_channel, write_channel, write_channels
    except ImportError:  # run by hand without the package on the path
        return {}
    return {
        "read_channel": read_channel,
        "write_channel": write_channel,
        "write_channels": write_channels,
    }


def run(folder: Path) -> dict[str, Any]:
    """Execute the folder's code and return the outcome (what ``main`` reports)."""
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


def save_figures(folder: Path) -> list[str]:
    """Save every open matplotlib figure as ``figure-N.png``; the names saved.

    Only when the code imported pyplot (nothing is imported otherwise); a figure that
    cannot be saved is skipped.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    saved = []
    try:
        numbers = list(pyplot.get_fignums())[:MAX_FIGURES]
    except Exception:
        return []
    for index, number in enumerate(numbers, start=1):
        name = f"{FIGURE_PREFIX}{index}.png"
        try:
            pyplot.figure(number).savefig(folder / name, format="png")
        except Exception:
            continue
        saved.append(name)
    return saved


def _reporter() -> Any:
    """The runtime's channel to the executor, or None when run by hand."""
    try:
        from replaycodegen import runtime
    except ImportError:
        return None
    return runtime._outcome_reporter()


def _report(reporter: Any, outcome: dict[str, Any], folder: Path) -> None:
    if reporter is None:
        (folder / OUTCOME_FILE_NAME).write_text(json.dumps(outcome), encoding="utf-8")
        return
    from replaycodegen.runtime import FrameTooLarge

    try:
        try:
            reporter.report_outcome(outcome)
        except FrameTooLarge as exc:
            small = {"status": "results_too_large", "size": exc.size}
            reporter.report_outcome({**small, "execution_time": outcome.get("execution_time")})
    except OSError:
        pass  # the code closed the channel: the executor reports the missing outcome


def main() -> int:
    folder = Path.cwd()
    reporter = _reporter()
    outcome = run(folder)
    outcome["figures"] = save_figures(folder)
    _report(reporter, outcome, folder)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    # Started by path, so sys.path[0] is this package's directory; its modules
    # (config, runner, ...) must not shadow the generated code's imports.
    sys.path[0] = os.getcwd()
    # os._exit: threads or atexit handlers the code left behind cannot delay the end.
    os._exit(main())
