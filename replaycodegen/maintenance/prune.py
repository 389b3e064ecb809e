"""Removing entries: the unused ids of a 0.1 ``--codegen-report`` file, and the removal itself."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.errors import CassetteError

REPORT_VERSION = 1


def read_codegen_report(path: str | os.PathLike[str]) -> dict[Path, list[str]]:
    """The unused entry ids per cassette (resolved path) of a ``--codegen-report`` JSON file.

    Relative cassette paths are resolved against the current directory, or failing that
    against the report's folder. A malformed report is a ``CassetteError``.
    """
    report_path = Path(path)
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CassetteError("no such report file", path=str(report_path),
                            hint="write it with `pytest --codegen-report=PATH`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"cannot read the report: {exc}", path=str(report_path)) from None
    except json.JSONDecodeError as exc:
        raise CassetteError(f"the report is not JSON: {exc.msg}", path=str(report_path),
                            line=exc.lineno, hint="regenerate it with pytest --codegen-report"
                            ) from None
    if not isinstance(data, dict) or data.get("version") != REPORT_VERSION:
        raise CassetteError(
            f"not a replaycodegen report of version {REPORT_VERSION}",
            path=str(report_path),
            hint='expected {"version": 1, "cassettes": {...}} from pytest --codegen-report',
        )
    cassettes = data.get("cassettes")
    if not isinstance(cassettes, dict):
        raise CassetteError("the report's `cassettes` must be an object", path=str(report_path),
                            field="cassettes")
    out: dict[Path, list[str]] = {}
    for name, record in cassettes.items():
        unused = record.get("unused") if isinstance(record, dict) else None
        if not isinstance(unused, list) or not all(isinstance(i, str) for i in unused):
            raise CassetteError(
                "`unused` must be a list of entry ids", path=str(report_path),
                field=f"cassettes[{name!r}].unused",
            )
        out.setdefault(_resolve_report_path(name, report_path), []).extend(unused)
    return out


def _resolve_report_path(name: str, report_path: Path) -> Path:
    candidate = Path(name)
    if candidate.is_absolute() or candidate.exists():
        return candidate.resolve()
    beside = report_path.parent / candidate
    return (beside if beside.exists() else candidate).resolve()


def prune_entries(cassette: Cassette, entry_ids: Sequence[str]) -> tuple[list[Entry], list[str]]:
    """Remove the entries with these ids (in place): ``(removed, ids not in the cassette)``."""
    wanted = set(entry_ids)
    removed = [e for e in cassette.entries if e.id in wanted]
    present = {e.id for e in removed}
    missing = [i for i in dict.fromkeys(entry_ids) if i not in present]
    if removed:
        cassette.replace_entries([e for e in cassette.entries if e.id not in wanted])
    return removed, missing
