"""The ``pytest --codegen-report`` file: one per process tree (xdist workers merged), versioned.

Format ``replaycodegen-report`` version 2 (``version: 1`` files of replaycodegen 0.1 are
still read, for ``prune``)::

    {"format": "replaycodegen-report", "version": 2,
     "run": {"id", "started_at", "finished_at", "host", "pid", "root", "partial"},
     "shard": {"index": 1, "total": 3, "source": "--codegen-shard"},
     "collected": [test ids], "passed": [codegen tests that passed],
     "deselected": {test id: cassette}, "owned": {cassette: [test ids]},
     "tests": {test id: {"cassette", "played", "recorded", "dropped", "misses": [...]}},
     "cassettes": {path: {"entries", "played", "recorded", "dropped", "misses", "users",
                          "owners", "unused", "checked"}},
     "cassette_dirs": [...], "cassette_files": [...], "orphans": [...]}

Paths are relative to ``run.root`` where they are below it (see ``outputs``). ``unused``
and ``orphans`` are this run's own verdict; ``replaycodegen combine`` recomputes both from
the raw facts of every shard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen.errors import CassetteError
from replaycodegen.lifecycle.ci.shards import Shard, ShardError

REPORT_FORMAT = "replaycodegen-report"
REPORT_VERSION = 2
LEGACY_VERSION = 1


@dataclass
class MissNote:
    """One ``CassetteMiss`` a test raised: why, for which key, and the closest entries."""

    reason: str
    key: str | None
    closest: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"reason": self.reason, "key": self.key, "closest": self.closest}


@dataclass
class TestRecord:
    """What one test did with its cassette."""

    cassette: str
    played: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    misses: list[MissNote] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"cassette": self.cassette, "played": self.played, "recorded": self.recorded,
                "dropped": self.dropped, "misses": [m.to_data() for m in self.misses]}


@dataclass
class CassetteRecord:
    """One cassette this run used; ``entries`` are the ids it held (``None``: not known)."""

    entries: list[str] | None
    played: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    misses: int = 0
    users: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    checked: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"entries": self.entries, "played": self.played, "recorded": self.recorded,
                "dropped": self.dropped, "misses": self.misses, "users": self.users,
                "owners": self.owners, "unused": self.unused, "checked": self.checked}


@dataclass
class OrphanRecord:
    """A cassette file below the cassette folders that no collected test owns."""

    path: str
    entries: int
    keys: list[str] = field(default_factory=list)
    likely_renamed_to: list[str] = field(default_factory=list)
    """Tests that missed on a missing file for a key this orphan holds."""

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "entries": self.entries, "keys": self.keys,
                "likely_renamed_to": self.likely_renamed_to}


@dataclass
class RunReport:
    """One ``--codegen-report`` file (see the module docstring)."""

    run_id: str
    started_at: str
    finished_at: str
    root: str
    shard: Shard
    host: str = ""
    pid: int = 0
    partial: list[str] = field(default_factory=list)
    """Why this run cannot tell unused entries or orphans (empty: it can)."""
    collected: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    deselected: dict[str, str] = field(default_factory=dict)
    owned: dict[str, list[str]] = field(default_factory=dict)
    """Cassette -> the collected (or deselected) tests whose cassette it is."""
    tests: dict[str, TestRecord] = field(default_factory=dict)
    cassettes: dict[str, CassetteRecord] = field(default_factory=dict)
    cassette_dirs: list[str] = field(default_factory=list)
    cassette_files: list[str] = field(default_factory=list)
    orphans: list[OrphanRecord] = field(default_factory=list)
    file: Path | None = None
    """Where it was read from (not written)."""

    def to_data(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT, "version": REPORT_VERSION,
            "run": {"id": self.run_id, "started_at": self.started_at,
                    "finished_at": self.finished_at, "host": self.host, "pid": self.pid,
                    "root": self.root, "partial": self.partial},
            "shard": self.shard.to_data(),
            "collected": self.collected, "passed": self.passed,
            "deselected": self.deselected, "owned": self.owned,
            "tests": {name: t.to_data() for name, t in self.tests.items()},
            "cassettes": {name: c.to_data() for name, c in self.cassettes.items()},
            "cassette_dirs": self.cassette_dirs, "cassette_files": self.cassette_files,
            "orphans": [o.to_data() for o in self.orphans],
        }

    @property
    def name(self) -> str:
        return str(self.file) if self.file is not None else f"run {self.run_id}"


@dataclass
class LegacyReport:
    """A ``version: 1`` report: only the unused ids per cassette (one whole session)."""

    unused: dict[str, list[str]]
    file: Path


# -- reading ------------------------------------------------------------------------------


class _Reader:
    """Typed access to parsed JSON that fails with the file and the field."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, where: str, message: str) -> CassetteError:
        return CassetteError(message, path=str(self.file), field=where or None,
                             hint="write the report again with `pytest --codegen-report=...` "
                             "(it is not meant to be edited)")

    def get(self, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
            where: str, default: Any = ...) -> Any:
        if key not in data:
            if default is not ...:
                return default
            raise self.fail(f"{where}{key}", f"missing field {key!r}")
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"{where}{key}", f"{key!r} has the wrong type "
                            f"({type(value).__name__})")
        return value

    def strings(self, data: Mapping[str, Any], key: str, where: str) -> list[str]:
        value = self.get(data, key, list, where, [])
        if not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}{key}", f"{key!r} must be a list of strings")
        return list(value)

    def optional_strings(self, data: Mapping[str, Any], key: str, where: str) -> list[str] | None:
        """A list of strings, or ``None`` when the field is null or absent."""
        if data.get(key) is None:
            return None
        return self.strings(data, key, where)

    def objects(self, data: Mapping[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        """``(where, object)`` for each item of the list ``key`` (absent: none)."""
        out = []
        for i, raw in enumerate(self.get(data, key, list, "", [])):
            if not isinstance(raw, dict):
                raise self.fail(f"{key}[{i}]", "must be an object")
            out.append((f"{key}[{i}].", raw))
        return out

    def mapping(self, data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = self.get(data, key, dict, where, {})
        return dict(value)


def read_json(path: Path) -> Any:
    """Parsed JSON, or a ``CassetteError`` naming the file (and line for bad JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError("no such report file", path=str(path),
                            hint="write it with `pytest --codegen-report=PATH`") from None
    except IsADirectoryError:
        raise CassetteError("is a directory, not a report file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read the report: {exc}", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise CassetteError(f"the report is not JSON: {exc.msg}", path=str(path),
                            line=exc.lineno, hint="it was cut short or edited; write it again "
                            "with pytest --codegen-report") from None


def _misses(r: _Reader, raw: Any, where: str) -> list[MissNote]:
    if not isinstance(raw, list):
        raise r.fail(where, "'misses' must be a list")
    notes = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]."
        if not isinstance(item, dict):
            raise r.fail(at.rstrip("."), "a miss must be an object")
        notes.append(MissNote(r.get(item, "reason", str, at),
                              r.get(item, "key", (str, type(None)), at, None),
                              r.strings(item, "closest", at)))
    return notes


def parse_run_report(data: Mapping[str, Any], file: Path) -> RunReport:
    """Validate a version 2 report (``data`` already checked for format and version)."""
    r = _Reader(file)
    run = r.get(data, "run", dict, "")
    raw_shard = r.get(data, "shard", dict, "")
    try:
        shard = Shard(r.get(raw_shard, "index", int, "shard."),
                      r.get(raw_shard, "total", int, "shard."),
                      r.get(raw_shard, "source", str, "shard.", "none"))
    except ShardError as exc:
        raise r.fail("shard", str(exc)) from None
    report = RunReport(
        run_id=r.get(run, "id", str, "run."), started_at=r.get(run, "started_at", str, "run."),
        finished_at=r.get(run, "finished_at", str, "run.", ""),
        root=r.get(run, "root", str, "run."), shard=shard,
        host=r.get(run, "host", str, "run.", ""), pid=r.get(run, "pid", int, "run.", 0),
        partial=r.strings(run, "partial", "run."),
        collected=r.strings(data, "collected", ""), passed=r.strings(data, "passed", ""),
        cassette_dirs=r.strings(data, "cassette_dirs", ""),
        cassette_files=r.strings(data, "cassette_files", ""), file=file)
    for name, cassette in r.mapping(data, "deselected", "").items():
        if not isinstance(cassette, str):
            raise r.fail(f"deselected[{name!r}]", "must be a cassette path")
        report.deselected[name] = cassette
    for name, tests in r.mapping(data, "owned", "").items():
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise r.fail(f"owned[{name!r}]", "must be a list of test ids")
        report.owned[name] = list(tests)
    for name, raw in r.mapping(data, "tests", "").items():
        at = f"tests[{name!r}]."
        if not isinstance(raw, dict):
            raise r.fail(at.rstrip("."), "must be an object")
        report.tests[name] = TestRecord(
            r.get(raw, "cassette", str, at), r.strings(raw, "played", at),
            r.strings(raw, "recorded", at), r.strings(raw, "dropped", at),
            _misses(r, r.get(raw, "misses", list, at, []), f"{at}misses"))
    for name, raw in r.mapping(data, "cassettes", "").items():
        at = f"cassettes[{name!r}]."
        if not isinstance(raw, dict):
            raise r.fail(at.rstrip("."), "must be an object")
        report.cassettes[name] = CassetteRecord(
            r.optional_strings(raw, "entries", at), r.strings(raw, "played", at),
            r.strings(raw, "recorded", at), r.strings(raw, "dropped", at),
            r.get(raw, "misses", int, at, 0), r.strings(raw, "users", at),
            r.strings(raw, "owners", at), r.strings(raw, "unused", at),
            r.get(raw, "checked", bool, at, False))
    report.orphans = parse_orphans(r, data)
    return report


def parse_orphans(r: _Reader, data: Mapping[str, Any]) -> list[OrphanRecord]:
    orphans = []
    for at, raw in r.objects(data, "orphans"):
        orphans.append(OrphanRecord(
            r.get(raw, "path", str, at), r.get(raw, "entries", int, at, 0),
            r.strings(raw, "keys", at), r.strings(raw, "likely_renamed_to", at)))
    return orphans


def parse_legacy(data: Mapping[str, Any], file: Path) -> LegacyReport:
    r = _Reader(file)
    out: dict[str, list[str]] = {}
    for name, record in r.get(data, "cassettes", dict, "").items():
        if not isinstance(record, dict):
            raise r.fail(f"cassettes[{name!r}]", "must be an object")
        out[name] = r.strings(record, "unused", f"cassettes[{name!r}].")
    return LegacyReport(out, file)


def read_report(path: str | os.PathLike[str]) -> RunReport | LegacyReport:
    """Read and validate one ``--codegen-report`` file; any problem is a ``CassetteError``
    naming the file and the field."""
    file = Path(path)
    return report_from_data(read_json(file), file)


def report_from_data(data: Any, file: Path) -> RunReport | LegacyReport:
    """Validate parsed JSON as a run report (version 2) or a version 1 report."""
    if not isinstance(data, dict):
        raise _Reader(file).fail("", "not a replaycodegen report (expected a JSON object)")
    version = data.get("version")
    if data.get("format") == REPORT_FORMAT and version == REPORT_VERSION:
        return parse_run_report(data, file)
    if "format" not in data and version == LEGACY_VERSION:
        return parse_legacy(data, file)
    if data.get("format") == REPORT_FORMAT and isinstance(version, int) and \
            version > REPORT_VERSION:
        raise CassetteError(f"report version {version} was written by a newer replaycodegen "
                            f"(this one reads version {REPORT_VERSION})", path=str(file),
                            hint="upgrade replaycodegen")
    raise CassetteError(
        f"not a replaycodegen report of version {LEGACY_VERSION} or {REPORT_VERSION} "
        f"(format {data.get('format')!r}, version {version!r})",
        path=str(file), hint="give the JSON files written by `pytest --codegen-report`")
