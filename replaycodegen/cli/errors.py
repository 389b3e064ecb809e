"""The two ways a command fails: bad usage or input (exit 2), or a failed run (exit 1).

Both print ``error: <message>`` on stderr, never a traceback (``--debug`` adds it). When the
command was given ``--json``, the error is also printed on stdout as one JSON document,
``{"error": {"message", "path", "line", "field", "hint", "exit_code"}}``, with the same
exit code.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

import click

from replaycodegen.cli.render import echo_json, printable, wants_color

if TYPE_CHECKING:
    from replaycodegen.errors import CassetteError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

MISSING_FILE = "no such cassette file"
"""The loader's reason for a path with no file (``cassette.loader.read_text``)."""

_mode: dict[str, Any] = {"color": "auto", "json": False}
"""``--color`` and whether ``--json`` was given, for errors shown after the command's context
has closed (click shows a ``ClickException`` from its ``main``)."""


def set_color_mode(mode: str) -> None:
    """Remember ``--color`` for errors shown after the command's context has closed."""
    _mode["color"] = mode


def set_json_errors(enabled: bool) -> None:
    """Show errors as JSON on stdout too (the command was given ``--json``)."""
    _mode["json"] = enabled


def json_errors() -> bool:
    return bool(_mode["json"])


def _stderr_color() -> bool:
    return wants_color(_mode["color"], sys.stderr)


class UserError(click.ClickException):
    """Bad usage or bad input: a missing file, an invalid cassette, no API key (exit 2).

    ``path``, ``line``, ``field`` and ``hint`` are the parts of the message a script may
    want on their own (``--json``); ``message`` is always the whole text."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None, hint: str | None = None,
                 exit_code: int | None = None) -> None:
        super().__init__(message)
        self.path, self.line, self.field, self.hint = path, line, field, hint
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    @classmethod
    def from_cassette_error(cls, exc: CassetteError) -> UserError:
        exc = for_reading(exc)
        return cls(str(exc), path=exc.path, line=exc.line, field=exc.field, hint=exc.hint)

    def data(self) -> dict[str, Any]:
        """The error as ``--json`` prints it (``{"error": <this>}``)."""
        return {"message": self.format_message(), "path": self.path, "line": self.line,
                "field": self.field, "hint": self.hint, "exit_code": self.exit_code}

    def show_line(self) -> None:
        """The ``error: ...`` line on stderr."""
        color = _stderr_color()
        label = click.style("error:", fg="red", bold=True) if color else "error:"
        # Messages quote cassettes and generated code: shown, never obeyed by the terminal.
        click.echo(f"{label} {printable(self.format_message())}", err=True, color=color)

    def show(self, file: IO[Any] | None = None) -> None:
        if json_errors():
            echo_json({"error": self.data()})
        self.show_line()


class RunFailed(UserError):
    """The work itself failed: a failed run, an approval not given, a cassette miss (exit 1)."""

    exit_code = EXIT_FAILED


class JsonUsageError(click.ClickException):
    """A click error (bad usage, a bad option value) of a command given ``--json``: the
    JSON document on stdout, then click's own text on stderr."""

    def __init__(self, inner: click.ClickException, command: str | None) -> None:
        super().__init__(inner.format_message())
        self.inner = inner
        self.exit_code = inner.exit_code  # type: ignore[misc]
        self.command = command

    def data(self) -> dict[str, Any]:
        hint = f"see `replaycodegen {self.command} --help`" if self.command else None
        param = getattr(self.inner, "param", None)
        field = getattr(param, "name", None) if param is not None else None
        return {"message": self.format_message(), "path": None, "line": None, "field": field,
                "hint": hint, "exit_code": self.exit_code}

    def show(self, file: IO[Any] | None = None) -> None:
        echo_json({"error": self.data()})
        self.inner.show(file)


def for_reading(exc: CassetteError) -> CassetteError:
    """The CLI's wording of a missing file: a path to check (with the closest file there,
    when one is close). The loader's "record it (record mode once)" fits pytest and the
    recorder; a command that reads a file cannot record it."""
    from replaycodegen.errors import CassetteError

    if exc.reason != MISSING_FILE or exc.path is None:
        return exc
    return CassetteError(MISSING_FILE, path=exc.path, line=exc.line, field=exc.field,
                         hint=check_the_path(exc.path))


def check_the_path(path: str) -> str:
    """``"check the path"``, naming the folder when it is missing, or the closest cassette
    name in it (a ``.yml``/``.yaml`` mix-up, a typo, the plugin's ``.codegen.yaml``)."""
    import difflib

    folder, name = os.path.split(path)
    if folder and not os.path.isdir(folder):
        return f"check the path (there is no folder {folder})"
    try:
        names = [n for n in os.listdir(folder or ".")
                 if n.endswith((".yaml", ".yml")) and n != name]
    except OSError:
        names = []
    stem = name.split(".", 1)[0]
    same_stem = sorted(n for n in names if n.split(".", 1)[0] == stem)
    close = same_stem or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        return f"check the path (did you mean {os.path.join(folder, close[0])}?)"
    return "check the path"


def emit_json(document: dict[str, Any], error: UserError | None = None) -> None:
    """Print a command's ``--json`` document, with ``"error"`` when the command failed, and
    then end as that error does (its ``error:`` line on stderr, its exit code)."""
    if error is not None:
        document["error"] = error.data()
    echo_json(document)
    if error is not None:
        error.show_line()
        raise click.exceptions.Exit(error.exit_code)
