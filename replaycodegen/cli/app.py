"""The ``replaycodegen`` group: global options, lazy commands, one-line errors.

Commands are imported when they run (``--help`` imports none of the heavy modules). Any
error becomes one ``error: ...`` line on stderr with exit code 2 (bad usage or input) or
1 (a failed run), and a JSON document on stdout too when the command was given ``--json``;
``--debug`` (or ``REPLAYCODEGEN_DEBUG=1``) prints the traceback too. ``--debug`` and
``--color`` work before or after the command name. A reader that closes the pipe
(``replaycodegen run | head``) ends the command quietly.
"""

from __future__ import annotations

import difflib
import errno
import importlib
import os
import sys
import warnings
from typing import Any, NoReturn, TextIO

import click

from replaycodegen.cli.context import State
from replaycodegen.cli.errors import (
    JsonUsageError,
    RunFailed,
    UserError,
    set_color_mode,
    set_json_errors,
)
from replaycodegen.cli.options import COLOR_HELP, DEBUG_HELP, add_global_options
from replaycodegen.cli.render import COLOR_MODES, Output
from replaycodegen.shipped import doc_path

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("replaycodegen.cli.run_cmd", "run"),
    "record": ("replaycodegen.cli.record_cmd", "record"),
    "ls": ("replaycodegen.cli.inspect_cmds", "ls"),
    "show": ("replaycodegen.cli.inspect_cmds", "show"),
    "diff": ("replaycodegen.cli.inspect_cmds", "diff"),
    "behaviors": ("replaycodegen.cli.inspect_cmds", "behaviors"),
    "new": ("replaycodegen.cli.author_cmds", "new"),
    "edit": ("replaycodegen.cli.author_cmds", "edit"),
    "craft": ("replaycodegen.cli.author_cmds", "craft"),
    "lint": ("replaycodegen.cli.maintain_cmds", "lint"),
    "rehash": ("replaycodegen.cli.maintain_cmds", "rehash"),
    "prune": ("replaycodegen.cli.maintain_cmds", "prune"),
    "scrub": ("replaycodegen.cli.maintain_cmds", "scrub"),
    "combine": ("replaycodegen.cli.lifecycle_cmds", "combine"),
    "merge-driver": ("replaycodegen.cli.lifecycle_cmds", "merge_driver"),
    "status": ("replaycodegen.cli.status_cmd", "status"),
}
"""Command name -> (module, attribute), in the order ``--help`` lists them."""

SHORT_HELP: dict[str, str] = {
    "run": "Replay a cassette through the service loop.",
    "record": "Record a real model into a cassette.",
    "ls": "List cassettes: entries, models, age, size.",
    "show": "Show entries: request, errors, key, code.",
    "diff": "Compare two cassettes entry by entry.",
    "behaviors": "List the shipped behaviours.",
    "new": "Create a hand-authored cassette.",
    "edit": "Edit an entry's code in $EDITOR.",
    "craft": "Turn a recorded success into a failure case.",
    "lint": "Check cassettes: keys, duplicates, secrets...",
    "rehash": "Rewrite stored keys from the requests.",
    "prune": "Remove entries a test run did not use.",
    "scrub": "Remove secrets from cassettes, in place.",
    "combine": "Combine the reports of CI shards into one.",
    "merge-driver": "Merge three versions of a cassette (for git).",
    "status": "Which entries are stale: prompt, model, age, hand edits.",
}
"""Each command's ``short_help``, so ``--help`` lists them without importing a command
module (that import is most of the cost of ``--help``). A command missing here is imported
for its help; tests/test_cold_start.py checks these match the commands' own."""


def translate(exc: Exception) -> click.ClickException:
    """The CLI error for a library exception: bad input (2) or a failed run (1)."""
    from replaycodegen.errors import CassetteError, CassetteMiss, ReplayCodegenError

    if isinstance(exc, CassetteMiss):
        return RunFailed(str(exc))
    if isinstance(exc, CassetteError):
        return UserError.from_cassette_error(exc)
    if isinstance(exc, ReplayCodegenError):
        return UserError(str(exc))
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return UserError(f"{exc.strerror or exc}{where}")
    return RunFailed(
        f"internal error: {type(exc).__name__}: {exc} "
        "(re-run with --debug for the traceback, and please report it)"
    )


class LazyGroup(click.Group):
    """Imports a command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} Commands: {', '.join(COMMANDS)}.")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from ``SHORT_HELP`` (no command is imported)."""
        rows = []
        for name in self.list_commands(ctx):
            text = SHORT_HELP.get(name)
            if text is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                text = command.get_short_help_str(formatter.width - 6 - len(name))
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return add_global_options(command)

    def _json_command(self, ctx: click.Context) -> tuple[str | None, bool]:
        """The command asked for, and whether it was given ``--json`` (before any ``--``)."""
        args = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        if not args or args[0] not in COMMANDS:
            return (args[0] if args else None), False
        tokens = args[1:]
        if "--" in tokens:
            tokens = tokens[:tokens.index("--")]
        if "--json" not in tokens:
            return args[0], False
        command = self.get_command(ctx, args[0])
        has_json = command is not None and any(
            "--json" in getattr(p, "opts", ()) for p in command.params)
        return args[0], has_json

    def invoke(self, ctx: click.Context) -> Any:
        name, as_json = self._json_command(ctx)
        set_json_errors(as_json)
        with warnings.catch_warnings():
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (UserError, click.exceptions.Exit, click.Abort):
                raise
            except click.ClickException as exc:
                if as_json:
                    raise JsonUsageError(exc, name) from exc
                raise
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    _quiet_broken_pipe()
                raise self._failure(ctx, exc) from exc
            except Exception as exc:
                if _is_stdout_closed(exc):
                    _quiet_broken_pipe()
                raise self._failure(ctx, exc) from exc

    @staticmethod
    def _failure(ctx: click.Context, exc: Exception) -> click.ClickException:
        state = ctx.find_object(State)
        if state is not None and state.debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        return translate(exc)


EXIT_BROKEN_PIPE = 141
"""What a shell reports for a program ended by SIGPIPE (128 + 13), as `ls | head` is."""


def _is_stdout_closed(exc: BaseException) -> bool:
    service_loop = sys.modules.get("replaycodegen.cli.service_loop")
    return service_loop is not None and isinstance(exc, service_loop.OutputClosed)


def _quiet_broken_pipe() -> NoReturn:
    """The reader of stdout went away (``| head``): stop without a traceback or a message.
    stdout is pointed at /dev/null so that the interpreter's last flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (click's test runner)
        pass
    raise click.exceptions.Exit(EXIT_BROKEN_PIPE)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(State) if ctx is not None else None
    out = state.out if state is not None else Output()
    loader = sys.modules.get("replaycodegen.cassette.loading.loader")  # a cassette's warning: at it
    at_cassette = loader is not None and issubclass(category, loader.CassetteWarning)
    out.warning((f"{filename}:{lineno}: " if at_cassette else "") + str(message))


HELP = f"""Record LLM code generation once, replay it offline: cassettes for replaycodegen.

\b
Start with:   replaycodegen run          (replays the shipped demo, no key needed)
Exit codes:   0 fine, 1 findings or a failed run, 2 bad usage or bad input.
Docs:         {doc_path("cli.md")}
"""
"""The group's help; the docs path is the shipped copy (in the wheel, or the checkout)."""


@click.group(
    name="replaycodegen",
    cls=LazyGroup,
    help=HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--debug", is_flag=True, envvar="REPLAYCODEGEN_DEBUG",
              help=DEBUG_HELP + " Also after the command name.")
@click.option("--color", "color_mode", type=click.Choice(COLOR_MODES), default="auto",
              show_default=True, help=COLOR_HELP + " Also after the command name.")
@click.version_option(package_name="replaycodegen", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, debug: bool, color_mode: str) -> None:
    set_color_mode(color_mode)
    ctx.obj = State(out=Output(color_mode), debug=debug)
