"""Hand-authoring commands: ``new``, ``edit``, ``craft`` (logic in ``maintenance.craft``)."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import click

from replaycodegen.cli import context
from replaycodegen.cli.context import State, display_path, load, pass_state, updating, write
from replaycodegen.cli.errors import UserError
from replaycodegen.cli.options import json_option
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Entry
    from replaycodegen.maintenance.craft import CraftedFailure

INJECTION_KINDS = (
    "syntax_error", "runtime_error", "missing_results", "timeout", "security_risk",
    "channel_write",
)
"""The ``--inject`` choices (``replaycodegen.maintenance.craft.INJECTION_KINDS``, kept here so that
``--help`` does not import the library)."""

_INJECT_NOTES = {
    "timeout": "the service's timeout ends it (`replaycodegen run --timeout 2` keeps the wait "
    "short)",
    "channel_write": "the service asks for approval first (`run --approve`); the approved "
    "code then fails after its write",
    "security_risk": "the analyser refuses it, so it never runs",
}


@click.command(short_help="Create a hand-authored cassette.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--from-behavior", "behavior", metavar="NAME",
              help="Start from a copy of a shipped behaviour (default: success).")
@click.option("--code", "code_file", type=click.File("r", encoding="utf-8"),
              help="Start from one entry answering every request with this code ('-': stdin).")
@click.option("--description", help="The cassette's description (say what it is for).")
@click.option("--allow-invalid", is_flag=True,
              help="Accept --code that does not parse (marked meta.expect: syntax_error).")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@json_option
@pass_state
def new(state: State, path: str, behavior: str | None, code_file: IO[str] | None,
        description: str | None, allow_invalid: bool, force: bool, as_json: bool) -> None:
    """Create a hand-authored cassette at PATH, to craft a failure case by hand."""
    from replaycodegen.maintenance.craft import scaffold_from_behavior, scaffold_from_code

    if behavior is not None and code_file is not None:
        raise click.UsageError("give --from-behavior or --code, not both")
    if Path(path).exists() and not force:
        raise UserError(f"{path}: exists already; nothing was written; fix: pass --force to "
                        "replace it, or choose another path")
    if code_file is not None:
        source = "stdin" if code_file.name == "<stdin>" else str(code_file.name)
        cassette = scaffold_from_code(code_file.read(), path=path, description=description,
                                      allow_invalid=allow_invalid, source=source)
    else:
        cassette = scaffold_from_behavior(behavior or "success", path=path,
                                          description=description)
    write(cassette, path)
    out = state.out
    if as_json:
        out.json({"path": path, "created": True, "entries": [e.id for e in cassette.entries]})
        return
    ids = ", ".join(e.id for e in cassette.entries)
    out.echo(f"created {display_path(path)}: "
             f"{plural(len(cassette.entries), 'hand-authored entry', 'hand-authored entries')} "
             f"({ids})")
    first = cassette.entries[0].id
    quoted = shlex.quote(path)
    out.echo(f"next: replaycodegen edit {quoted} {first}   |   "
             f"replaycodegen run --cassette {quoted}")


def _keep_rejected(code: str) -> str:
    """Save rejected code so the edit is not lost; returns the file's path."""
    fd, name = tempfile.mkstemp(prefix="replaycodegen-edit-", suffix=".py")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(code)
    return name


@click.command(short_help="Edit an entry's code in $EDITOR.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("entry")
@click.option("--code", "code_file", type=click.File("r", encoding="utf-8"),
              help="Take the new code from this file ('-': stdin) instead of $EDITOR.")
@click.option("--allow-invalid", is_flag=True,
              help="Accept code that does not parse (marked meta.expect: syntax_error).")
@json_option
@pass_state
def edit(state: State, path: str, entry: str, code_file: IO[str] | None,
         allow_invalid: bool, as_json: bool) -> None:
    """Edit the code of ENTRY in $EDITOR; validated on save, written atomically.

    Code that does not parse is refused (exit 2, the edit kept in a temp file) unless the
    entry expects a syntax error, --allow-invalid is given, or you confirm on a terminal.
    """
    from replaycodegen.cassette.writing.store import check_writable
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.craft import expects_syntax_error, replace_code, syntax_problem
    from replaycodegen.maintenance.entries import find_entry

    # Read without the lock: it is not held while $EDITOR is open. The change is applied
    # afterwards, in one locked read-modify-write of the file as it is then.
    cassette = load(path)
    _, item = find_entry(cassette, entry)
    check_writable(Path(path))  # refuse a read-only file before the person edits anything
    before = _snapshot(item)
    out = state.out
    if code_file is not None:
        new_code: str | None = code_file.read()
    else:
        try:
            new_code = click.edit(item.code, extension=".py", require_save=True)
        except click.ClickException as exc:
            raise UserError(f"{exc.format_message()}; fix: set $EDITOR (e.g. EDITOR=nano), "
                            "or pass --code FILE") from None
    if new_code is None or new_code.rstrip("\n") == item.code.rstrip("\n"):
        if as_json:
            out.json({"path": path, "entry": entry, "changed": False, "lines": None,
                      "marked_syntax_error": False})
        else:
            out.echo(f"no change: {display_path(path)} is untouched")
        return
    problem = syntax_problem(new_code)
    if problem and not allow_invalid and not expects_syntax_error(item) and not as_json and (
        context.stdin_is_interactive()
    ):
        allow_invalid = click.confirm(
            f"The new code does not parse ({problem}). Keep it as a deliberate syntax error?",
            default=False, err=True,
        )
    try:
        with updating(path) as edit:
            current = next((e for e in edit.cassette.entries if e.id == entry), None)
            if current is None or _snapshot(current) != before:
                _refuse_conflict(path, entry, new_code, removed=current is None)
            replace_code(edit.cassette, entry, new_code, allow_invalid=allow_invalid)
            edit.touch(entry)
    except CassetteError as exc:  # InvalidCode, or the file went bad while editing
        kept = _keep_rejected(new_code)
        where = f"{exc.path}:{exc.line}" if exc.line else exc.path
        hint = f"; fix: {exc.hint}" if exc.hint else ""
        raise UserError(f"{where}: {exc.reason} (your edit is kept in {kept}){hint}") from None
    lines = len(new_code.splitlines())
    if as_json:
        out.json({"path": path, "entry": entry, "changed": True, "lines": lines,
                  "marked_syntax_error": bool(problem)})
        return
    marker = " (marked meta.expect: syntax_error)" if problem else ""
    out.echo(f"updated entry {entry} of {display_path(path)}: "
             f"{plural(lines, 'line of code', 'lines of code')}{marker}")


def _snapshot(entry: Entry) -> bytes:
    """What an entry holds, to tell whether another process changed it meanwhile."""
    from replaycodegen.cassette.keys import canonical_json
    from replaycodegen.cassette.writing.serialize import entry_to_data

    return canonical_json(entry_to_data(entry))


def _refuse_conflict(path: str, entry: str, new_code: str, *, removed: bool) -> NoReturn:
    kept = _keep_rejected(new_code)
    what = "was removed from" if removed else "changed in"
    raise UserError(
        f"{display_path(path)}: entry {entry} {what} the file while you were editing "
        f"(another process wrote it); nothing was written (your edit is kept in {kept}); "
        f"fix: `replaycodegen edit {path} {entry}` again, starting from the entry as it is "
        f"now, or `--code {kept}` to write your version over it")


@click.command(short_help="Turn a recorded success into a failure case.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--entry", "entry_id", required=True, metavar="ID",
              help="The recorded entry to turn into a failure case.")
@click.option("--inject", required=True, type=click.Choice(INJECTION_KINDS),
              help="The failure the first attempt gets.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the crafted cassette here (default: PATH, in place).")
@json_option
@pass_state
def craft(state: State, path: str, entry_id: str, inject: str, output: str | None,
          as_json: bool) -> None:
    """Turn a recorded success into a failure case: the entry's attempt now gets the
    injected failure, the retry gets the recorded code (fail, then fix)."""
    from replaycodegen.maintenance.craft import inject_failure

    target = output or path
    if output is None:
        with updating(path) as edit:
            crafted = inject_failure(edit.cassette, entry_id, inject)
    else:
        crafted = _craft_copy(path, output, entry_id, inject)
    out = state.out
    if as_json:
        for warning in crafted.warnings:
            out.warning(warning)
        out.json({"path": target, "entry": entry_id, "inject": inject,
                  "attempts": [
                      {"attempt": crafted.attempt, "entry": crafted.injected.id, "fails": True},
                      {"attempt": crafted.attempt + 1, "entry": crafted.replay.id,
                       "fails": False}],
                  "note": _INJECT_NOTES.get(inject), "warnings": list(crafted.warnings)})
        return
    out.echo(f"crafted {display_path(target)}: entry {entry_id} now fails first, then replays")
    out.echo(f"  attempt {crafted.attempt}: {crafted.injected.id} ({inject})")
    out.echo(f"  attempt {crafted.attempt + 1}: {crafted.replay.id} (the recorded code)")
    if inject in _INJECT_NOTES:
        out.echo(f"  note: {_INJECT_NOTES[inject]}")
    for warning in crafted.warnings:
        out.warning(warning)
    out.echo(f"try it: replaycodegen run --cassette {shlex.quote(target)}")


def _craft_copy(path: str, output: str, entry_id: str, inject: str) -> CraftedFailure:
    """Craft into another file: PATH's text with the crafted entries spliced in (its
    comments kept), written whole to OUTPUT."""
    from replaycodegen.cassette.loading.loader import parse_cassette, read_text
    from replaycodegen.cassette.writing.rewrite import CassetteEdit
    from replaycodegen.cassette.writing.store import CassetteStore
    from replaycodegen.maintenance.craft import inject_failure

    text = read_text(path)
    edit = CassetteEdit(parse_cassette(text, path), text)
    crafted = inject_failure(edit.cassette, entry_id, inject)
    store = CassetteStore(output)
    store.write_text(edit.render(store.scrubber, display_path=path) or text)
    return crafted
