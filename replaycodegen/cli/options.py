"""Options every command shares: ``--json``, and the global ``--debug`` and ``--color``,
which also work after the command name (``replaycodegen lint --debug x.yaml``) with the
same meaning as before it (``replaycodegen --debug lint x.yaml``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from replaycodegen.cli.render import COLOR_MODES

F = TypeVar("F", bound=Callable[..., Any])

DEBUG_HELP = "Show the traceback of an error."
COLOR_HELP = ("Colour and syntax highlighting (auto: on a terminal, unless NO_COLOR is set).")
JSON_HELP = ("Print one JSON document on stdout for scripts (its shape: docs/cli.md); an "
             "error is JSON too, with the same exit code.")


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from replaycodegen.cli.context import State

    if value:
        ctx.ensure_object(State).as_json = True
    return value


def json_option(command: F) -> F:
    """``--json`` (the parameter ``as_json``, also ``State.as_json``); ``app.LazyGroup``
    shows the errors of a command given it as JSON too."""
    return click.option("--json", "as_json", is_flag=True, callback=_set_json,
                        help=JSON_HELP)(command)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from replaycodegen.cli.context import State

    if value:
        ctx.ensure_object(State).debug = True


def _set_color(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from replaycodegen.cli.context import State
    from replaycodegen.cli.errors import set_color_mode
    from replaycodegen.cli.render import Output

    if value is not None:
        set_color_mode(value)
        ctx.ensure_object(State).out = Output(value)


def _global_options() -> list[click.Option]:
    # Eager: applied before the command's other parameters are processed, so --debug and
    # --color hold for an error in any of them, wherever they are given.
    return [
        click.Option(["--debug"], is_flag=True, default=False, expose_value=False,
                     is_eager=True, callback=_set_debug, help=DEBUG_HELP),
        click.Option(["--color", "color_mode"], type=click.Choice(COLOR_MODES), default=None,
                     expose_value=False, is_eager=True, callback=_set_color,
                     help=COLOR_HELP + " Also before the command name."),
    ]


def add_global_options(command: click.Command) -> click.Command:
    """Give ``command`` the global ``--debug`` and ``--color`` (once; a command that has an
    option of that name keeps its own)."""
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for option in _global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    return command
