"""Terminal output: colour only on a terminal (``NO_COLOR`` honoured), optional syntax
highlighting (pygments, imported lazily), JSON and small tables."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    import datetime as _dt

    from replaycodegen.cli.spinner import Spinner

COLOR_MODES = ("auto", "always", "never")


def wants_color(mode: str, stream: TextIO) -> bool:
    """``always``/``never``, or ``auto``: a terminal, ``NO_COLOR`` unset, ``TERM`` not dumb."""
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def highlight_python(code: str) -> str | None:
    """ANSI-highlighted code, or ``None`` when pygments is not installed."""
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return None
    text: str = highlight(code, PythonLexer(stripnl=False, ensurenl=True), TerminalFormatter())
    return text


def echo_json(data: Any) -> None:
    """One JSON document on stdout: what every ``--json`` prints, its errors included."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    # JSON escapes only C0 controls; C1 controls and bidirectional overrides (from a
    # cassette or the code) become \uXXXX too, which decodes to the same data.
    click.echo(_UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


class Output:
    """Where the commands write: stdout for results, stderr for errors and warnings."""

    def __init__(self, color_mode: str = "auto") -> None:
        self.color_mode = color_mode
        self.color = wants_color(color_mode, sys.stdout)
        self.color_err = wants_color(color_mode, sys.stderr)
        self.live: Spinner | None = None
        """A spinner on stderr, erased while anything else is printed (``run``)."""

    # -- plain writing ----------------------------------------------------------------------
    def echo(self, text: str = "", *, err: bool = False, nl: bool = True) -> None:
        color = self.color_err if err else self.color
        if self.live is not None and self.live.running:
            with self.live.paused():
                click.echo(text, err=err, nl=nl, color=color)
        else:
            click.echo(text, err=err, nl=nl, color=color)

    def style(self, text: str, *, err: bool = False, **styles: Any) -> str:
        enabled = self.color_err if err else self.color
        return click.style(text, **styles) if enabled else text

    def warning(self, message: str) -> None:
        self.echo(self.style("warning:", err=True, fg="yellow", bold=True) + " " + message,
                  err=True)

    def error(self, message: str) -> None:
        self.echo(self.style("error:", err=True, fg="red", bold=True) + " " + message, err=True)

    def json(self, data: Any) -> None:
        echo_json(data)

    # -- structured pieces ------------------------------------------------------------------
    def heading(self, text: str) -> None:
        self.echo(self.style(text, bold=True))

    def dim(self, text: str) -> str:
        return self.style(text, dim=True)

    def code(self, code: str, *, indent: str = "  ") -> None:
        """Code with line numbers; highlighted when colour is on and pygments is present.
        Control characters in it are shown, never sent to the terminal (``printable``)."""
        code = printable(code)
        lines = code.rstrip("\n").split("\n")
        shown = lines
        if self.color:
            highlighted = highlight_python(code.rstrip("\n") + "\n")
            if highlighted is not None:
                candidate = highlighted.rstrip("\n").split("\n")
                if len(candidate) == len(lines):
                    shown = candidate
        width = len(str(len(lines)))
        for number, line in enumerate(shown, 1):
            self.echo(f"{indent}{self.dim(f'{number:>{width}} |')} {line}".rstrip())

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]],
              right: Sequence[int] = ()) -> None:
        """A plain aligned table; ``right`` lists the columns aligned to the right."""
        widths = [len(h) for h in headers]
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def fmt(cells: Sequence[str]) -> str:
            parts = [
                cell.rjust(width) if i in right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        self.echo(self.style(fmt(headers), bold=True))
        for row in rows:
            self.echo(fmt(row))


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def human_age(moment: _dt.datetime, now: _dt.datetime | None = None) -> str:
    """``"45s"``, ``"12m"``, ``"3h"``, ``"9d"``, ``"2y"``; ``"future"`` for clock skew."""
    import datetime as _dt

    now = now or _dt.datetime.now(_dt.UTC)
    seconds = (now - moment).total_seconds()
    if seconds < -60:
        return "future"
    seconds = max(0.0, seconds)
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def short_key(key: str | None) -> str:
    return key[:12] if key else "-"


# C0 controls but tab and newline, DEL, the C1 controls (an 8-bit CSI is one), and the
# bidirectional overrides and isolates ("Trojan Source": text that reads differently).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """``text`` with every character a terminal would obey (escape sequences, carriage
    returns, bidirectional overrides) shown as an escape (``\\x1b``) instead: for what
    generated code and cassettes say, which must never drive the terminal."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def one_line(text: str, limit: int = 100) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
