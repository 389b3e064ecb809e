"""Read-only commands: ``ls``, ``show``, ``diff``, ``behaviors``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from replaycodegen.cli.context import State, display_path, load, pass_state
from replaycodegen.cli.errors import UserError
from replaycodegen.cli.options import json_option
from replaycodegen.cli.render import Output, human_age, human_size, one_line, short_key
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Cassette, Entry
    from replaycodegen.maintenance.diff import EntryChange
    from replaycodegen.maintenance.entries import EntryLocator
    from replaycodegen.maintenance.summary import CassetteSummary


# -- ls -----------------------------------------------------------------------------------


def _summaries(paths: list[Path], skipped: list[str]) -> list[CassetteSummary]:
    """A summary per loadable or broken file (each error on its own, then the next file);
    other tools' cassettes (vcrpy) go to ``skipped`` with the reason."""
    import datetime as _dt

    from replaycodegen.cassette.loading.loader import NotACassetteError, load_cassette
    from replaycodegen.errors import CassetteError
    from replaycodegen.maintenance.summary import CassetteSummary, summarize

    out = []
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append(summarize(path, load_cassette(path)))
            except NotACassetteError as exc:
                skipped.append(exc.skipped)
            except CassetteError as exc:
                try:
                    out.append(summarize(path, None, error=str(exc)))
                except OSError:  # a symlink loop or a dangling link: no stat to show
                    out.append(CassetteSummary(str(path), 0, _dt.datetime.now(_dt.UTC),
                                               error=str(exc)))
    return out


@click.command(short_help="List cassettes: entries, models, age, size.")
@click.argument("directory", required=False, type=click.Path())
@json_option
@pass_state
def ls(state: State, directory: str | None, as_json: bool) -> None:
    """List the cassettes under DIRECTORY (default: ./cassettes, else .).

    For each: entries (recorded / hand-authored), models, age (of the newest recording,
    else of the file) and size. Invalid files are listed with their error.
    """
    from replaycodegen.cassette.loading.files import find_cassettes

    root = Path(directory) if directory else (
        Path("cassettes") if Path("cassettes").is_dir() else Path(".")
    )
    if not root.exists():
        hint = "check the path (give a folder holding cassettes, or a cassette file)"
        raise UserError(f"{root}: no such file or folder; fix: {hint}", path=str(root),
                        hint=hint)
    skipped: list[str] = []
    summaries = _summaries(find_cassettes(root) if root.is_dir() else [root], skipped)
    if as_json:
        state.out.json({"directory": str(root), "cassettes": [s.to_data() for s in summaries],
                        "skipped": skipped})
        return
    out = state.out
    for note in skipped:
        out.echo(note)
    if not summaries:
        out.echo(f"no cassettes (*.yaml) under {root}")
        return
    valid = [s for s in summaries if s.error is None]
    rows = [
        [display_path(s.path), str(s.entries), str(s.recorded), str(s.hand_authored),
         ", ".join(s.models) or "-", human_age(s.as_of), human_size(s.size_bytes)]
        for s in valid
    ]
    if rows:
        out.table(["CASSETTE", "ENTRIES", "RECORDED", "HAND", "MODELS", "AGE", "SIZE"], rows,
                  right=(1, 2, 3, 5, 6))
    for s in summaries:
        if s.error is not None:
            out.echo(out.style("invalid", fg="red") + f" {s.error}")


# -- show ---------------------------------------------------------------------------------


def _entry_data(cassette: Cassette, index: int, entry: Entry, locate: EntryLocator
                ) -> dict[str, Any]:
    from replaycodegen.cassette.writing.serialize import entry_to_data
    from replaycodegen.maintenance.entries import entry_attempt, entry_kind

    data = {"kind": entry_kind(entry), "line": locate.line(index),
            "attempt": entry_attempt(entry), **entry_to_data(entry)}
    if entry.request is not None:
        data["key"] = entry.key
        data["stored_key"] = entry.stored_key
        data["key_disagrees"] = entry.key_disagrees
    data["code"] = str(entry.code)
    return data


def _show_entry(out: Output, cassette: Cassette, index: int, entry: Entry,
                locate: EntryLocator) -> None:
    from replaycodegen.maintenance.entries import entry_attempt, entry_kind

    line = locate.line(index)
    where = f", line {line}" if line else ""
    out.echo()
    out.heading(f"entry {entry.id} ({entry_kind(entry)}{where})")
    if entry.description:
        out.echo(f"  description: {entry.description}")
    if entry.when is not None:
        when = entry.when
        if when.attempt is None and when.error_contains is None and when.request is None:
            out.echo("  when: any request, any attempt")
        if when.attempt is not None:
            out.echo(f"  when attempt: {when.attempt}")
        if when.error_contains is not None:
            needles = " or ".join(repr(n) for n in when.error_contains)
            out.echo(f"  when the errors mention: {needles}")
        if when.request is not None:
            out.echo("  when the request has:")
            _request_lines(out, when.request)
    else:
        out.echo(f"  attempt: {entry_attempt(entry)}")
        out.echo("  request:")
        _request_lines(out, entry.request or {})
        if entry.error_chain:
            out.echo("  error chain:")
            for number, error in enumerate(entry.error_chain, 1):
                label = "/".join(p for p in (error.stage, error.type) if p)
                label = f"[{label}] " if label else ""
                out.echo(f"    {number}. {label}{one_line(error.message, 200)}")
        else:
            out.echo("  error chain: (none: a first attempt)")
        state = "stale: run `replaycodegen rehash`" if entry.key_disagrees else "ok"
        out.echo(f"  key: {short_key(entry.key)} ({state})")
    meta = _meta_line(entry.meta)
    if meta:
        out.echo(f"  meta: {meta}")
    if entry.scrubbed:
        out.echo(f"  scrubbed: {', '.join(map(str, entry.scrubbed))}")
    out.echo("  code:")
    out.code(entry.code, indent="    ")


def _request_lines(out: Output, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        if value not in (None, {}, []):
            out.echo(f"    {name}: {one_line(str(value), 200)}")


def _meta_line(meta: dict[str, Any]) -> str:
    parts = []
    for name in ("model", "recorded_at", "latency_ms", "crafted_from", "inject", "expect",
                 "edited_at"):
        if meta.get(name) is not None:
            parts.append(f"{name} {meta[name]}")
    usage = meta.get("usage")
    if isinstance(usage, dict) and usage.get("total_tokens") is not None:
        parts.insert(1, f"tokens {usage['total_tokens']}")
    others = [k for k in meta if k not in {"model", "recorded_at", "latency_ms", "crafted_from",
                                           "inject", "expect", "edited_at", "usage"}]
    if others:
        parts.append("also " + ", ".join(others))
    return "; ".join(parts)


@click.command(short_help="Show entries: request, errors, key, code.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("entry", required=False)
@json_option
@pass_state
def show(state: State, path: str, entry: str | None, as_json: bool) -> None:
    """Show a cassette's entries (or only ENTRY): request, error chain, key, code.

    Code is syntax-highlighted (pygments) when colour is on: on a terminal, or with the
    global `--color always`.
    """
    from replaycodegen.cassette.loading.loader import read_text
    from replaycodegen.maintenance.entries import EntryLocator, find_entry

    cassette = load(path)
    locate = EntryLocator(read_text(path))
    if entry is not None:
        index, chosen = find_entry(cassette, entry)
        selected = [(index, chosen)]
    else:
        selected = list(enumerate(cassette.entries))
    if as_json:
        state.out.json({
            "path": path, "description": cassette.description,
            "match_on": list(cassette.match_on), "repeat_last": cassette.repeat_last,
            "entries": [_entry_data(cassette, i, e, locate) for i, e in selected],
        })
        return
    out = state.out
    recorded = sum(1 for e in cassette.entries if not e.is_pattern)
    out.heading(display_path(path))
    for line in (cassette.description or "").strip().splitlines():
        out.echo(f"  {line}")
    out.echo(f"  {plural(len(cassette.entries), 'entry')} ({recorded} recorded, "
             f"{len(cassette.entries) - recorded} hand-authored); "
             f"match_on: {', '.join(cassette.match_on)}")
    for index, item in selected:
        _show_entry(out, cassette, index, item, locate)


# -- diff ---------------------------------------------------------------------------------


def _change_line(change: EntryChange) -> str:
    sign = {"added": "+", "removed": "-", "changed": "~"}[change.status]
    match = change.match
    if match.startswith("key "):
        match = f"key {short_key(match[4:])}"
    text = f"{sign} {change.entry_id} ({match}): {change.status}"
    if change.fields:
        text += f" ({', '.join(change.fields)})"
    return text


@click.command(short_help="Compare two cassettes entry by entry.")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@json_option
@click.option("--exit-code", is_flag=True, help="Exit 1 when the cassettes differ.")
@pass_state
def diff(state: State, a: str, b: str, as_json: bool, exit_code: bool) -> None:
    """Entries added, removed and changed from cassette A to B.

    Recorded entries are matched by key, hand-authored ones by id.
    """
    from replaycodegen.maintenance.diff import diff_cassettes

    result = diff_cassettes(load(a), load(b))
    if as_json:
        state.out.json({
            "a": a, "b": b, "match_on_changed": result.match_on_changed,
            "added": [c.to_data() for c in result.of("added")],
            "removed": [c.to_data() for c in result.of("removed")],
            "changed": [c.to_data() for c in result.of("changed")],
            "unchanged": result.unchanged,
        })
    else:
        out = state.out
        out.heading(f"{display_path(a)} -> {display_path(b)}: {len(result.of('added'))} added, "
                    f"{len(result.of('removed'))} removed, {len(result.of('changed'))} changed, "
                    f"{result.unchanged} unchanged")
        if result.match_on_changed:
            out.warning("match_on differs, so every recorded key differs too")
        colors = {"added": "green", "removed": "red", "changed": "yellow"}
        for change in result.changes:
            out.echo(out.style(_change_line(change), fg=colors[change.status]))
            for line in change.code_diff(display_path(a), display_path(b)):
                out.echo(f"    {line}")
    if exit_code and result.differs:
        raise click.exceptions.Exit(1)


# -- behaviors ----------------------------------------------------------------------------


@click.command(short_help="List the shipped behaviours.")
@json_option
@pass_state
def behaviors(state: State, as_json: bool) -> None:
    """The shipped behaviours (`run --behavior NAME`, `new --from-behavior NAME`)."""
    from replaycodegen.cassette.behaviors import behavior_summaries

    summaries = behavior_summaries()
    if as_json:
        state.out.json(summaries)
        return
    width = max(len(name) for name in summaries)
    for name, summary in summaries.items():
        state.out.echo(f"{state.out.style(name.ljust(width), bold=True)}  {one_line(summary, 200)}")

