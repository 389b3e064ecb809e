"""Helpers for the lifecycle tests: cassettes written through the library, requests."""

from __future__ import annotations

from pathlib import Path

from replaycodegen import Cassette, PythonExecutionRequest
from replaycodegen.cassette.model import entry_from_pair
from replaycodegen.cassette.writing.store import CassetteStore


def ask(query: str) -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query=query, task_objective="lifecycle tests",
                                  execution_folder_name="lifecycle")


def write_cassette(path: Path, answers: dict[str, str], *, header_comment: str = "") -> Path:
    """A cassette with one recorded entry per query (ids e1, e2, ...)."""
    cassette = Cassette(path=str(path))
    for n, (query, code) in enumerate(answers.items(), start=1):
        cassette.add(entry_from_pair(entry_id=f"e{n}", request=ask(query), error_chain=[],
                                     code=code, match_on=cassette.match_on))
    store = CassetteStore(path)
    store.write(cassette)
    store.close()
    Path(f"{path}.lock").unlink(missing_ok=True)
    if header_comment:
        path.write_text(f"# {header_comment}\n" + path.read_text(encoding="utf-8"),
                        encoding="utf-8")
    return path


def add_entry(path: Path, query: str, code: str) -> str:
    """Append one recorded entry the way a recorder does; returns its id."""
    store = CassetteStore(path)
    cassette = store.load()
    assert cassette is not None
    entry = store.add(cassette, entry_from_pair(entry_id="", request=ask(query), error_chain=[],
                                                code=code, match_on=cassette.match_on))
    store.close()
    Path(f"{path}.lock").unlink(missing_ok=True)
    return entry.id
