"""A one-line "still running" indicator on stderr, for an attempt that takes a while.

Only on a terminal (``TERM=dumb`` excluded): piped or redirected, nothing is drawn. It
appears after ``delay`` seconds, so a quick attempt shows nothing, and is erased (spaces,
no escape codes) before anything else is printed: ``Output.echo`` pauses it. click has no
spinner, and click-spinner cannot be paused around other output, hence these few lines.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

FRAMES = "|/-\\"


def on_a_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class Spinner:
    """``start(label)`` draws ``label(seconds)`` with a turning bar until ``stop()``."""

    def __init__(self, stream: TextIO | None = None, *, delay: float = 0.5,
                 interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = on_a_terminal(self.stream)
        self.delay = delay
        self.interval = interval
        self._lock = threading.Lock()
        self._drawn = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, label: Callable[[float], str]) -> None:
        """Show ``label(seconds so far)`` from ``delay`` seconds on (a no-op off a terminal)."""
        self.stop()
        if not self.enabled:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, args=(label, self._stop),
                                        name="replaycodegen-spinner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and erase the line (it is safe to call when not running)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()
        with self._lock:
            self._erase()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the line while the caller prints; it is drawn again at the next tick."""
        with self._lock:
            self._erase()
            yield

    def _spin(self, label: Callable[[float], str], stop: threading.Event) -> None:
        started = time.monotonic()
        if stop.wait(self.delay):
            return
        frame = 0
        while not stop.is_set():
            text = f"{FRAMES[frame % len(FRAMES)]} {label(time.monotonic() - started)}"
            with self._lock:
                if stop.is_set():
                    break
                if not self._write("\r" + text.ljust(self._drawn)):
                    return
                self._drawn = len(text)
            frame += 1
            stop.wait(self.interval)

    def _erase(self) -> None:
        if self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def _write(self, text: str) -> bool:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away
            return False
        return True
