"""What every command shares: the output, reading and writing cassettes, expanding paths.

Library modules are imported inside the functions, so that importing a command module
costs nothing beyond click.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from replaycodegen.cli.render import Output

if TYPE_CHECKING:
    from pathlib import Path

    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cassette.store import CassetteStore


@dataclass
class State:
    """Global options, handed to every command."""

    out: Output = field(default_factory=Output)
    debug: bool = False


pass_state = click.make_pass_decorator(State, ensure=True)


def stdin_is_interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


def load(path: str | os.PathLike[str]) -> Cassette:
    """Load a cassette to read it (warnings go to stderr; a bad file is a CassetteError)."""
    from replaycodegen.cassette.loader import load_cassette

    return load_cassette(path)


def open_for_update(path: str | os.PathLike[str]) -> tuple[CassetteStore, Cassette]:
    """The store and the cassette of an existing, writable file (read under its lock).

    Loader warnings are not shown: writing the cassette back re-derives stale keys and
    drops a torn last entry, which is what they would ask for.
    """
    from replaycodegen.cassette.loader import CassetteWarning, read_text
    from replaycodegen.cassette.store import CassetteStore
    from replaycodegen.errors import CassetteError

    if not os.path.isfile(path):
        read_text(path)  # raises the precise CassetteError (missing, directory...)
    store = CassetteStore(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CassetteWarning)
        cassette = store.load()
    if cassette is None:  # removed between the check and the read
        raise CassetteError("no such cassette file", path=str(path))
    return store, cassette


def write(cassette: Cassette, path: str | os.PathLike[str],
          store: CassetteStore | None = None) -> None:
    """Write the whole cassette through the store: locked, scrubbed, atomic."""
    from replaycodegen.cassette.store import CassetteStore

    store = store or CassetteStore(path)
    try:
        store.write(cassette)
    finally:
        store.close()


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders replaced by the cassettes under them."""
    from pathlib import Path

    from replaycodegen.maintenance.ops import find_cassettes

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
