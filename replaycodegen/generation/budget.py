"""Recording budgets: at most ``max_calls`` live calls and ``max_tokens`` tokens.

A call is reserved *before* it is made, so concurrent recorders (asyncio tasks, threads,
pytest-xdist workers sharing one budget file) never make more than ``max_calls`` calls
between them. Tokens are known only once a call has answered: the token budget is checked
before each call against the usage known so far, so the call that crosses it finishes (and
is recorded), and no call starts after it.

A budget shared between processes lives in a small JSON file (``{"calls": n, "tokens":
t}``) next to a lock file; the pytest plugin keeps it in the session's run folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from replaycodegen.atomic import write_json
from replaycodegen.errors import ReplayCodegenError
from replaycodegen.plural import plural


class BudgetExceeded(ReplayCodegenError):
    """A live call was refused because the recording budget is used up.

    Attributes: ``calls`` and ``tokens`` used so far, ``max_calls``, ``max_tokens`` and
    ``refused`` (what was not recorded).
    """

    def __init__(self, message: str, *, calls: int, tokens: int, max_calls: int | None,
                 max_tokens: int | None, refused: str) -> None:
        super().__init__(message)
        self.message = message
        self.calls = calls
        self.tokens = tokens
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.refused = refused


def _check_limit(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a whole number >= 0 or None, got {value!r}")
    return value


class RecordingBudget:
    """Counts live calls and tokens against optional limits; thread-safe.

    ``shared_file``: keep the counts in that file (locked), so several processes share one
    budget; without it the counts live in this object.
    """

    def __init__(self, max_calls: int | None = None, max_tokens: int | None = None, *,
                 shared_file: str | os.PathLike[str] | None = None) -> None:
        self.max_calls = _check_limit("max_calls", max_calls)
        self.max_tokens = _check_limit("max_tokens", max_tokens)
        self.shared_file = Path(shared_file) if shared_file is not None else None
        self._lock = threading.Lock()
        self._file_lock = (FileLock(f"{self.shared_file}.lock")
                           if self.shared_file is not None else None)
        self._calls = 0
        self._tokens = 0
        self.refused: list[str] = []
        """What this process was refused, in order (one line each)."""

    @property
    def limited(self) -> bool:
        return self.max_calls is not None or self.max_tokens is not None

    @property
    def calls(self) -> int:
        with self._counts() as counts:
            return counts[0]

    @property
    def tokens(self) -> int:
        with self._counts() as counts:
            return counts[1]

    def reserve(self, what: str) -> None:
        """Count one live call for ``what`` (a description of the request), or raise
        ``BudgetExceeded`` and count nothing."""
        with self._counts(write=True) as counts:
            calls, tokens = counts
            problem = self._problem(calls, tokens)
            if problem is None:
                counts[0] = calls + 1
                return
        self.refused.append(what)
        raise BudgetExceeded(
            f"recording budget used up: {problem}; {what} was not recorded, and no live call "
            "was made for it. Raise the limit to record the rest: a re-run replays what is "
            "recorded and calls the model only for what is missing",
            calls=calls, tokens=tokens, max_calls=self.max_calls, max_tokens=self.max_tokens,
            refused=what,
        )

    def settle(self, tokens: int | None) -> None:
        """Add the tokens a finished call used."""
        if not tokens:
            return
        with self._counts(write=True) as counts:
            counts[1] += int(tokens)

    def _problem(self, calls: int, tokens: int) -> str | None:
        if self.max_calls is not None and calls >= self.max_calls:
            return (f"{plural(calls, 'live call')} made, the limit is "
                    f"{self.max_calls} (max calls)")
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return (f"{plural(tokens, 'token')} used by {plural(calls, 'live call')}, the "
                    f"limit is {self.max_tokens} (max tokens; checked before each call with the "
                    "usage known so far, so the last call may go past it)")
        return None

    @contextlib.contextmanager
    def _counts(self, *, write: bool = False) -> Iterator[list[int]]:
        with self._lock:
            if self._file_lock is None or self.shared_file is None:
                counts = [self._calls, self._tokens]
                yield counts
                self._calls, self._tokens = counts
                return
            with self._file_lock:
                counts = self._read(self.shared_file)
                before = list(counts)
                yield counts
                if write and counts != before:
                    write_json(self.shared_file, {"calls": counts[0], "tokens": counts[1]})

    @staticmethod
    def _read(path: Path) -> list[int]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return [0, 0]
        return [int(data.get("calls", 0)), int(data.get("tokens", 0))]

    def describe(self) -> str:
        """``"3 of 5 calls, 1200 of 4000 tokens"`` (limits shown where set)."""
        calls, tokens = self.calls, self.tokens
        call_text = (f"{calls} of {plural(self.max_calls, 'call')}"
                     if self.max_calls is not None else plural(calls, "call"))
        token_text = (f"{tokens} of {plural(self.max_tokens, 'token')}"
                      if self.max_tokens is not None else plural(tokens, "token"))
        return f"{call_text}, {token_text}"
