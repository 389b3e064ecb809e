"""The miss ledger: every ``CassetteMiss`` of a replay run, one JSON object per line.

Each line holds what it takes to record that exact call later: the cassette, the test,
the request fields, the error chain, the key, the reason, the closest entries. Secrets
(API keys, secret environment values, key-shaped strings) are scrubbed before a line is
written, like everything a cassette stores; a request that held one is marked
``scrubbed`` and ``record --from-ledger`` refuses to record it under a different key.

Several xdist workers append to one file: each line is one ``write`` on an ``O_APPEND``
descriptor, under ``<ledger>.lock``. A last line cut short by a killed process is skipped
with a warning when the ledger is read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from replaycodegen.errors import CassetteError
from replaycodegen.models import ErrorChainItem, ExecutionError, PythonExecutionRequest

LEDGER_FORMAT = "replaycodegen-miss"
LEDGER_VERSION = 1
LOCK_TIMEOUT_SECONDS = 60.0
_CHAIN_FIELDS = {f.name for f in dataclasses.fields(ExecutionError)}


class LedgerWarning(UserWarning):
    """A ledger line that cannot be used but loses nothing else (a torn last line)."""


@dataclass
class MissRecord:
    """One line of the ledger."""

    cassette: str
    test: str
    request: dict[str, Any]
    error_chain: list[Any]
    key: str
    match_on: list[str]
    reason: str
    closest: list[str] = field(default_factory=list)
    root: str = ""
    shard: str = "1/1"
    run_id: str = ""
    scrubbed: bool = False
    where: str = ""
    """``file:line`` it was read from (not written)."""

    def to_data(self) -> dict[str, Any]:
        return {"format": LEDGER_FORMAT, "version": LEDGER_VERSION, "cassette": self.cassette,
                "root": self.root, "test": self.test, "reason": self.reason, "key": self.key,
                "closest": self.closest, "match_on": self.match_on, "request": self.request,
                "error_chain": self.error_chain, "scrubbed": self.scrubbed,
                "shard": self.shard, "run_id": self.run_id}

    def python_request(self) -> PythonExecutionRequest:
        return PythonExecutionRequest(**self.request)

    def python_chain(self) -> list[ErrorChainItem]:
        return [item if isinstance(item, str) else ExecutionError(**item)
                for item in self.error_chain]


def chain_data(chain: Sequence[ErrorChainItem]) -> list[Any]:
    """An error chain as JSON data: strings stay strings, errors become objects."""
    return [item if isinstance(item, str) else dataclasses.asdict(item) for item in chain]


def make_record(*, cassette: str, root: str, test: str, request: PythonExecutionRequest,
                chain: Sequence[ErrorChainItem], key: str, match_on: Sequence[str],
                reason: str, closest: Sequence[str], shard: str, run_id: str) -> MissRecord:
    """A ledger line for one miss, scrubbed of secrets (the test id too: a key can sit in a
    parametrize id, and the ledger is a CI artifact)."""
    from replaycodegen.cassette.scrub import environment_scrubber

    scrubber = environment_scrubber()
    raw_request = request.model_dump(mode="json")
    raw_chain = chain_data(chain)
    clean_request, clean_chain = scrubber.data(raw_request), scrubber.data(raw_chain)
    return MissRecord(cassette=scrubber.text(cassette), test=scrubber.text(test),
                      request=clean_request,
                      error_chain=clean_chain, key=key, match_on=list(match_on), reason=reason,
                      closest=list(closest), root=root, shard=shard, run_id=run_id,
                      scrubbed=clean_request != raw_request or clean_chain != raw_chain)


class LedgerWriter:
    """Appends lines to one ledger file; safe with many processes writing at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_SECONDS)

    def start(self) -> None:
        """Create the file empty (a run's ledger holds that run's misses only)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self.path.write_bytes(b"")

    def append(self, records: Iterable[MissRecord]) -> int:
        lines = [json.dumps(r.to_data(), ensure_ascii=False, sort_keys=False) + "\n"
                 for r in records]
        if not lines:
            return 0
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                for line in lines:
                    data = memoryview(line.encode("utf-8"))
                    while data:
                        data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        return len(lines)

    def finish(self) -> None:
        """Remove the lock file once every writer is done."""
        Path(f"{self.path}.lock").unlink(missing_ok=True)


# -- reading ------------------------------------------------------------------------------


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str,
           default: Any = ...) -> Any:
    if name not in data:
        if default is not ...:
            return default
        raise CassetteError(f"missing field {name!r}", path=where,
                            hint="the ledger is written by `pytest --codegen-ledger`")
    value = data[name]
    if not isinstance(value, kind):
        raise CassetteError(f"{name!r} has the wrong type ({type(value).__name__})", path=where)
    return value


def parse_line(text: str, where: str) -> MissRecord:
    """One ledger line, validated; problems are a ``CassetteError`` naming ``file:line``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CassetteError(f"not a JSON line: {exc.msg}", path=where,
                            hint="each line of a ledger is one JSON object") from None
    if not isinstance(data, dict) or data.get("format") != LEDGER_FORMAT:
        raise CassetteError("not a replaycodegen miss-ledger line", path=where,
                            hint="give the files written by `pytest --codegen-ledger`")
    if data.get("version") != LEDGER_VERSION:
        raise CassetteError(f"ledger version {data.get('version')!r} is not "
                            f"{LEDGER_VERSION}", path=where, hint="upgrade replaycodegen")
    chain = _field(data, "error_chain", list, where)
    for i, item in enumerate(chain):
        if not isinstance(item, str) and not (isinstance(item, dict)
                                              and set(item) <= _CHAIN_FIELDS):
            raise CassetteError(f"error_chain[{i}] is neither a string nor an error", path=where)
    match_on = _field(data, "match_on", list, where)
    return MissRecord(
        cassette=_field(data, "cassette", str, where), test=_field(data, "test", str, where),
        request=_field(data, "request", dict, where), error_chain=chain,
        key=_field(data, "key", str, where), match_on=[str(m) for m in match_on],
        reason=_field(data, "reason", str, where),
        closest=[str(c) for c in _field(data, "closest", list, where, [])],
        root=_field(data, "root", str, where, ""), shard=_field(data, "shard", str, where, ""),
        run_id=_field(data, "run_id", str, where, ""),
        scrubbed=bool(_field(data, "scrubbed", bool, where, False)), where=where)


def read_ledger(path: str | os.PathLike[str]) -> list[MissRecord]:
    """Every line of a ledger file (blank lines skipped, a torn last line warned about)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CassetteError("no such ledger file", path=str(file),
                            hint="write it with `pytest --codegen-ledger=PATH`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read the ledger: {exc}", path=str(file)) from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        torn = number == len(lines) and not text.endswith("\n")
        try:
            records.append(parse_line(line, where))
        except CassetteError:
            if not torn:
                raise
            warnings.warn(f"{where}: the last line was cut short (a test process was killed "
                          "while writing it); it is skipped", LedgerWarning, stacklevel=2)
    return records
