"""Which cassette a test uses: the merged ``codegen_cassette`` marker and the path it implies.

Default path: ``<cassette dir>/<module name>/<Class>.<test>[param-id].codegen.yaml``; the
cassette dir is ``--codegen-cassette-dir`` or ``cassettes/`` next to the test module. The
``.codegen`` part keeps it apart from pytest-recording's ``<test>.yaml`` in the same
folder. A replaycodegen cassette under the old default name ``<test>.yaml`` is still used
while the new name does not exist (a vcrpy cassette there is left alone). Everything here
depends only on the test item and the files, so the plugin can also tell which cassette a
test *would* use when it did not run (deselected, skipped).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.cassette.scrub import Scrubber, scrub_file_name

from ._settings import RECORD_MODES

MARKER = "codegen_cassette"
MARKER_DOC = (
    f"{MARKER}(path=None, *, behavior=None, match_on=None, record_mode=None): the cassette "
    "this test's `codegen` fixture replays or records (replaycodegen; default "
    "cassettes/<module>/<test>.codegen.yaml)"
)
MARKER_KEYWORDS = ("path", "behavior", "match_on", "record_mode")
KEYWORD_SPELLINGS = {"behaviour": "behavior"}
"""Other spellings accepted for a keyword (the docs write "behaviour")."""
SUFFIX = ".yaml"
"""Added to a marker's path that has no suffix."""
DEFAULT_SUFFIX = ".codegen.yaml"
"""Of default names: pytest-recording names its cassettes ``<test>.yaml``."""
MAX_FILE_NAME_BYTES = 150
"""Longer default names are cut and end with a hash (some file systems and Windows paths
have tight limits, and the folders come on top)."""

_UNSAFE = re.compile(r"[<>?%*:|\"'/\\\x00-\x1f\x7f]")


class MarkerError(ValueError):
    """A ``codegen_cassette`` marker that cannot be used as written."""


@dataclass(frozen=True)
class CassetteMarker:
    """The ``codegen_cassette`` markers of a test merged: the closest one wins per keyword.

    ``path`` and ``behavior`` are one choice (where the code comes from): the closest
    marker that sets either decides.
    """

    path: str | None = None
    behavior: str | None = None
    match_on: tuple[str, ...] | None = None
    record_mode: str | None = None


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_names(kind: str, names: list[str], valid: tuple[str, ...]) -> str:
    """``unknown keyword 'x' (did you mean 'y'?); valid: ...`` for one or more names."""
    described = ", ".join(f"{n!r}{did_you_mean(n, valid)}" for n in names)
    plural = "" if len(names) == 1 else "s"
    return f"unknown {kind}{plural} {described}; valid: {', '.join(valid)}"


def _validated(mark: pytest.Mark) -> dict[str, Any]:
    if len(mark.args) > 1:
        raise MarkerError(f"@pytest.mark.{MARKER} takes one positional argument (the path), "
                          f"got {len(mark.args)}")
    kwargs = dict(mark.kwargs)
    for other, name in KEYWORD_SPELLINGS.items():
        if other in kwargs:
            if name in kwargs:
                raise MarkerError(f"@pytest.mark.{MARKER}: {other}= and {name}= are one "
                                  "keyword; give it once")
            kwargs[name] = kwargs.pop(other)
    unknown = sorted(set(kwargs) - set(MARKER_KEYWORDS))
    if unknown:
        raise MarkerError(f"@pytest.mark.{MARKER}: "
                          + unknown_names("keyword", unknown, MARKER_KEYWORDS))
    values = {k: v for k, v in kwargs.items() if v is not None}
    if mark.args:
        if "path" in values:
            raise MarkerError(f"@pytest.mark.{MARKER}: path given twice (positional and path=)")
        if mark.args[0] is not None:
            values["path"] = mark.args[0]
    if "path" in values and "behavior" in values:
        raise MarkerError(f"@pytest.mark.{MARKER}: pass either a path or behavior=, not both")
    return values


def _checked(values: Mapping[str, Any]) -> CassetteMarker:
    path, behavior = values.get("path"), values.get("behavior")
    if path is not None and not isinstance(path, str | os.PathLike):
        raise MarkerError(f"@pytest.mark.{MARKER}: path must be a string, not {path!r}")
    if behavior is not None:
        from replaycodegen.cassette.behaviors import BEHAVIORS  # only a behaviour needs it

        if behavior not in BEHAVIORS:
            raise MarkerError(f"@pytest.mark.{MARKER}: unknown behavior {behavior!r}"
                              f"{did_you_mean(str(behavior), list(BEHAVIORS))}; "
                              f"available: {', '.join(BEHAVIORS)}")
    mode = values.get("record_mode")
    if mode is not None and mode not in RECORD_MODES:
        raise MarkerError(f"@pytest.mark.{MARKER}: record_mode={mode!r} is not one of "
                          f"{', '.join(RECORD_MODES)}")
    match_on = values.get("match_on")
    if match_on is not None:
        if isinstance(match_on, str) or not all(isinstance(f, str) for f in match_on):
            raise MarkerError(f"@pytest.mark.{MARKER}: match_on must be a list of request "
                              f"field names, not {match_on!r}")
        match_on = tuple(match_on)
    return CassetteMarker(os.fspath(path) if path is not None else None, behavior, match_on,
                          mode)


def merged_marker(item: pytest.Item) -> CassetteMarker:
    """Merge the test's markers, farthest (module) first, closest (function) last."""
    values: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers(MARKER))):
        own = _validated(mark)
        if "path" in own or "behavior" in own:
            values.pop("path", None)
            values.pop("behavior", None)
        values.update(own)
    return _checked(values)


def safe_file_name(name: str, suffix: str = SUFFIX, scrubber: Scrubber | None = None) -> str:
    """``name`` with characters unsafe in file names replaced by ``-``, shortened with a
    hash when it would be longer than ``MAX_FILE_NAME_BYTES``."""
    # a key in a parametrize id never reaches the file name
    name = scrub_file_name(name, scrubber)
    clean = _UNSAFE.sub("-", name)
    if len((clean + suffix).encode("utf-8")) <= MAX_FILE_NAME_BYTES:
        return clean + suffix
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    room = MAX_FILE_NAME_BYTES - len(suffix) - len(digest) - 1
    prefix = clean.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{prefix}-{digest}{suffix}"


def default_cassette_name(test_class: type | None, test_name: str,
                          suffix: str = DEFAULT_SUFFIX, scrubber: Scrubber | None = None) -> str:
    """``<Class>.<test>[param-id].codegen.yaml``, made safe as a file name."""
    name = f"{test_class.__name__}.{test_name}" if test_class is not None else test_name
    return safe_file_name(name, suffix, scrubber)


def module_cassette_dir(module_path: Path, cassette_dir: Path | None) -> Path:
    """``<cassette dir>/<module name>/``: one folder per test module avoids name clashes."""
    root = cassette_dir if cassette_dir is not None else module_path.parent / "cassettes"
    return root / module_path.stem


@functools.lru_cache(maxsize=1024)
def _absolute_folder(module_path: Path, cassette_dir: Path | None) -> str:
    """``module_cassette_dir`` as an absolute path string, once per module (not per test)."""
    return os.path.abspath(module_cassette_dir(module_path, cassette_dir))


@dataclass(frozen=True)
class CassetteChoice:
    """The cassette file of a test; ``renamed_to`` is set when it is a legacy default name
    (``<test>.yaml``) used because ``renamed_to`` (``<test>.codegen.yaml``) does not exist."""

    path: Path
    renamed_to: Path | None = None


def _legacy_in_use(legacy: str) -> bool:
    """A replaycodegen cassette (not pytest-recording's) under the old default name."""
    from replaycodegen.cassette.loading.foreign import foreign_kind_of_file

    return os.path.isfile(legacy) and foreign_kind_of_file(Path(legacy)) is None


_NAME_SCRUBBER = pytest.StashKey[Scrubber]()


def _name_scrubber(config: pytest.Config) -> Scrubber:
    """The scrubber of default file names: the environment as the session found it (one
    scan of it per session, not per collected test)."""
    scrubber = config.stash.get(_NAME_SCRUBBER, None)
    if scrubber is None:
        scrubber = config.stash[_NAME_SCRUBBER] = Scrubber()
    return scrubber


def choose_cassette(item: pytest.Item, marker: CassetteMarker,
                    cassette_dir: Path | None) -> CassetteChoice:
    """The absolute cassette path of a test: the marker's path (relative ones live in the
    module's cassette folder; no suffix means ``.yaml``), else the default name."""
    if marker.path is not None:
        folder = module_cassette_dir(item.path, cassette_dir)
        path = Path(marker.path).expanduser()
        if not path.suffix:
            path = path.with_name(path.name + SUFFIX)
        path = path if path.is_absolute() else folder / path
        return CassetteChoice(Path(os.path.abspath(path)))
    # plain strings: this runs for every collected test
    test_class = getattr(item, "cls", None)
    base = _absolute_folder(item.path, cassette_dir)
    scrubber = _name_scrubber(item.config)
    new = os.path.join(base, default_cassette_name(test_class, item.name, scrubber=scrubber))
    if os.path.exists(new):  # the usual case: the old name is not even worked out
        return CassetteChoice(Path(new))
    legacy = os.path.join(base, default_cassette_name(test_class, item.name, SUFFIX, scrubber))
    if _legacy_in_use(legacy):  # the new name does not exist (above)
        return CassetteChoice(Path(legacy), renamed_to=Path(new))
    return CassetteChoice(Path(new))


def cassette_path(item: pytest.Item, marker: CassetteMarker, cassette_dir: Path | None) -> Path:
    """The path of :func:`choose_cassette`."""
    return choose_cassette(item, marker, cassette_dir).path


_RESOLVED = pytest.StashKey[tuple[CassetteMarker, CassetteChoice]]()


def resolved(
    item: pytest.Item, cassette_dir: Path | None
) -> tuple[CassetteMarker, CassetteChoice]:
    """The merged marker and the cassette of a test, worked out once per test item (a bad
    marker raises ``MarkerError`` every time it is asked)."""
    found = item.stash.get(_RESOLVED, None)
    if found is None:
        marker = merged_marker(item)
        found = item.stash[_RESOLVED] = (marker, choose_cassette(item, marker, cassette_dir))
    return found
