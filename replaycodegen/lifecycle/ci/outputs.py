"""Where reports and ledgers go, and how paths inside them travel between machines.

Output paths follow coverage.py's parallel mode: every process writes its own file, named
with a unique suffix (host name, process id, a random number), so shards and re-runs that
land in one folder never collide, and ``replaycodegen combine`` reads them all.

- a path ending in ``/`` (or an existing folder) gets ``<stem>.<shard>.<host>.<pid>.<random>
  <suffix>`` inside it;
- ``{shard}`` in a path becomes ``1of3``, and the unique suffix is added before the file's
  extension (``{unique}`` places it yourself);
- any other path is written as it is (one file, replaced by the next run).

Paths inside a report are relative to the run's root folder (pytest's rootdir) where they
are below it, so that reports from CI runners in different folders combine, and a report
made in CI can be used in a checkout elsewhere.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from replaycodegen.lifecycle.ci.shards import Shard


def utc_now() -> str:
    """An ISO timestamp with microseconds, so that re-runs order by it."""
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


SHARD_FIELD = "{shard}"
UNIQUE_FIELD = "{unique}"


def unique_suffix() -> str:
    """``host.pid.random``, computed at write time so a forked process gets its own pid."""
    dice = random.Random(os.urandom(8)).randint(0, 999999)
    host = socket.gethostname().replace(os.sep, "-") or "host"
    return f"{host}.{os.getpid()}.{dice:06d}"


def output_path(template: str, shard: Shard, *, stem: str, suffix: str,
                base: Path) -> Path:
    """The file to write for ``template`` (see the module docstring), absolute."""
    path = Path(template).expanduser()
    path = path if path.is_absolute() else base / path
    if template.endswith(("/", os.sep)) or path.is_dir():
        return path / f"{stem}.{shard.file_label}.{unique_suffix()}{suffix}"
    text = str(path)
    if SHARD_FIELD not in text and UNIQUE_FIELD not in text:
        return path
    text = text.replace(SHARD_FIELD, shard.file_label)
    if UNIQUE_FIELD in text:
        return Path(text.replace(UNIQUE_FIELD, unique_suffix()))
    named = Path(text)
    ext = "".join(named.suffixes[-1:])
    return named.with_name(f"{named.name[:len(named.name) - len(ext)]}.{unique_suffix()}{ext}")


def portable(path: str | os.PathLike[str], root: Path) -> str:
    """``path`` relative to ``root`` (with ``/``) when it is below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return str(absolute)


def resolve(name: str, roots: Sequence[str | os.PathLike[str]] = (),
            base: Path | None = None) -> Path:
    """A path from a report, made absolute: an absolute one as it is; a relative one below
    the current folder if it exists there, else below the first of ``roots`` where it
    exists, else below the current folder."""
    candidate = Path(name)
    if candidate.is_absolute():
        return candidate
    here = (base or Path.cwd()) / candidate
    if here.exists():
        return here.resolve()
    for root in roots:
        there = Path(root) / candidate
        if there.exists():
            return there.resolve()
    return Path(os.path.abspath(here))


def expand_inputs(names: Iterable[str], *, pattern: str) -> list[Path]:
    """Files as given, folders searched recursively for ``pattern``, globs expanded (sorted,
    without duplicates). A name that matches nothing is kept, so that reading it fails with
    a clear error."""
    import glob

    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(pattern) if p.is_file()))
        elif glob.has_magic(name):
            found.extend(sorted(Path(p) for p in glob.glob(name, recursive=True)
                                if Path(p).is_file()))
        else:
            found.append(path)
    return list(dict.fromkeys(found))
