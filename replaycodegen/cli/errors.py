"""The two ways a command fails: bad usage or input (exit 2), or a failed run (exit 1).

Both print ``error: <message>`` on stderr, never a traceback (``--debug`` adds it).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from replaycodegen.cli.render import printable, wants_color

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


_color_mode = ["auto"]


def set_color_mode(mode: str) -> None:
    """Remember ``--color`` for errors shown after the command's context has closed."""
    _color_mode[0] = mode


def _stderr_color() -> bool:
    return wants_color(_color_mode[0], sys.stderr)


class UserError(click.ClickException):
    """Bad usage or bad input: a missing file, an invalid cassette, no API key (exit 2)."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        color = _stderr_color()
        label = click.style("error:", fg="red", bold=True) if color else "error:"
        # Messages quote cassettes and generated code: shown, never obeyed by the terminal.
        click.echo(f"{label} {printable(self.format_message())}", err=True, color=color)


class RunFailed(UserError):
    """The work itself failed: a failed run, an approval not given, a cassette miss (exit 1)."""

    exit_code = EXIT_FAILED
