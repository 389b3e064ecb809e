"""What every command shares: the output, reading and writing cassettes, expanding paths.

Library modules are imported inside the functions, so that importing a command module
costs nothing beyond click.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from replaycodegen.cli.render import Output

if TYPE_CHECKING:
    from pathlib import Path

    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cassette.scrub import Scrubber
    from replaycodegen.cassette.writing.rewrite import CassetteEdit


@dataclass
class State:
    """Global options, handed to every command."""

    out: Output = field(default_factory=Output)
    debug: bool = False
    as_json: bool = False
    """The command was given ``--json``: its stdout is one JSON document, nothing else."""


pass_state = click.make_pass_decorator(State, ensure=True)


def stdin_is_interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


def load(path: str | os.PathLike[str]) -> Cassette:
    """Load a cassette to read it (warnings go to stderr; a bad file is a CassetteError)."""
    from replaycodegen.cassette.loading.loader import load_cassette

    return load_cassette(path)


@contextlib.contextmanager
def updating(path: str | os.PathLike[str], *,
             scrubber: Scrubber | None = None) -> Iterator[CassetteEdit]:
    """One locked read-modify-write of an existing cassette (``CassetteStore.update``):
    the file is read with the lock held and written back, only the entries changed
    re-serialised, before the lock is released. A missing file is a CassetteError."""
    from replaycodegen.cassette.loading.loader import read_text
    from replaycodegen.cassette.writing.store import CassetteStore

    if not os.path.isfile(path):
        read_text(path)  # raises the precise CassetteError (missing, directory...)
    store = CassetteStore(path, scrubber=scrubber)
    try:
        with store.update() as edit:
            yield edit
    finally:
        store.close()


def write(cassette: Cassette, path: str | os.PathLike[str]) -> None:
    """Write a new cassette whole through the store: locked, scrubbed, atomic."""
    from replaycodegen.cassette.writing.store import CassetteStore

    store = CassetteStore(path)
    try:
        store.write(cassette)
    finally:
        store.close()


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders replaced by the cassettes under them."""
    from pathlib import Path

    from replaycodegen.cassette.loading.files import find_cassettes

    out: list[Path] = []
    for name in paths:
        path = Path(name)
        out.extend(find_cassettes(path) if path.is_dir() else [path])
    return out


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the current folder when it is below it, else as given."""
    from pathlib import Path

    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
