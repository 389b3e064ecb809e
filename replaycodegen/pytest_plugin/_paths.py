"""Which cassette a test uses: the merged ``codegen_cassette`` marker and the path it implies.

Default path: ``<cassette dir>/<module name>/<Class>.<test>[param-id].yaml``; the cassette
dir is ``--codegen-cassette-dir`` or ``cassettes/`` next to the test module. Everything
here is a pure function of the test item, so the plugin can also tell which cassette a
test *would* use when it did not run (deselected, skipped).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.cassette.scrub import scrub_file_name

from ._settings import RECORD_MODES

MARKER = "codegen_cassette"
MARKER_DOC = (
    f"{MARKER}(path=None, *, behavior=None, match_on=None, record_mode=None): the cassette "
    "this test's `codegen` fixture replays or records (replaycodegen)"
)
MARKER_KEYWORDS = ("path", "behavior", "match_on", "record_mode")
SUFFIX = ".yaml"
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


def _validated(mark: pytest.Mark) -> dict[str, Any]:
    if len(mark.args) > 1:
        raise MarkerError(f"@pytest.mark.{MARKER} takes one positional argument (the path), "
                          f"got {len(mark.args)}")
    unknown = sorted(set(mark.kwargs) - set(MARKER_KEYWORDS))
    if unknown:
        raise MarkerError(f"@pytest.mark.{MARKER}: unknown keyword(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(MARKER_KEYWORDS)}")
    values = {k: v for k, v in mark.kwargs.items() if v is not None}
    if mark.args:
        if "path" in values:
            raise MarkerError(f"@pytest.mark.{MARKER}: path given twice (positional and path=)")
        if mark.args[0] is not None:
            values["path"] = mark.args[0]
    if "path" in values and "behavior" in values:
        raise MarkerError(f"@pytest.mark.{MARKER}: pass either a path or behavior=, not both")
    return values


def _checked(values: Mapping[str, Any]) -> CassetteMarker:
    from replaycodegen.cassette.behaviors import BEHAVIORS

    path, behavior = values.get("path"), values.get("behavior")
    if path is not None and not isinstance(path, str | os.PathLike):
        raise MarkerError(f"@pytest.mark.{MARKER}: path must be a string, not {path!r}")
    if behavior is not None and behavior not in BEHAVIORS:
        raise MarkerError(f"@pytest.mark.{MARKER}: unknown behavior {behavior!r}; "
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


def safe_file_name(name: str, suffix: str = SUFFIX) -> str:
    """``name`` with characters unsafe in file names replaced by ``-``, shortened with a
    hash when it would be longer than ``MAX_FILE_NAME_BYTES``."""
    name = scrub_file_name(name)  # a key in a parametrize id never reaches the file name
    clean = _UNSAFE.sub("-", name)
    if len((clean + suffix).encode("utf-8")) <= MAX_FILE_NAME_BYTES:
        return clean + suffix
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    room = MAX_FILE_NAME_BYTES - len(suffix) - len(digest) - 1
    prefix = clean.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{prefix}-{digest}{suffix}"


def default_cassette_name(test_class: type | None, test_name: str) -> str:
    """``<Class>.<test>[param-id].yaml``, made safe as a file name."""
    name = f"{test_class.__name__}.{test_name}" if test_class is not None else test_name
    return safe_file_name(name)


def module_cassette_dir(module_path: Path, cassette_dir: Path | None) -> Path:
    """``<cassette dir>/<module name>/``: one folder per test module avoids name clashes."""
    root = cassette_dir if cassette_dir is not None else module_path.parent / "cassettes"
    return root / module_path.stem


def cassette_path(item: pytest.Item, marker: CassetteMarker, cassette_dir: Path | None) -> Path:
    """The absolute cassette path of a test: the marker's path (relative ones live in the
    module's cassette folder; no suffix means ``.yaml``), else the default name."""
    folder = module_cassette_dir(item.path, cassette_dir)
    if marker.path is not None:
        path = Path(marker.path).expanduser()
        if not path.suffix:
            path = path.with_name(path.name + SUFFIX)
        path = path if path.is_absolute() else folder / path
    else:
        path = folder / default_cassette_name(getattr(item, "cls", None), item.name)
    return Path(os.path.abspath(path))
