"""Helpers for the plugin tests: a small test project, cassettes written through the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Imported here, before pytester snapshots sys.modules: a module first imported inside an
# in-process run is dropped after it, while ``replaycodegen``'s lazy exports keep the old
# class, and isinstance checks in later runs would compare two copies of one class.
# vcrpy saves the HTTP classes it patches when it is first imported: imported afresh in an
# inner run while the guard's stubs (built from the first copy) are in place, it would
# take the stubs for the originals.
import vcr  # noqa: F401

import replaycodegen.pytest_plugin._generators  # noqa: F401
from replaycodegen import (
    Cassette,
    MockCodeGenerator,
    PromptBuilder,
    PythonExecutionRequest,
    load_cassette,
)
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.model import entry_from_pair
from replaycodegen.cassette.writing.store import CassetteStore

FAKE_KEY = "sk-fake-plugin-tests-0123456789abcdef"

# hypothesis' plugin costs ~0.5 s per inner session and these projects do not use it.
INI = """\
[pytest]
addopts = -p no:hypothesispytest -p no:cacheprovider
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

CONFTEST = """\
import pytest
from replaycodegen import PythonExecutionRequest


@pytest.fixture
def ask():
    def make(query):
        return PythonExecutionRequest(
            user_query=query, task_objective="plugin tests", execution_folder_name="plugin"
        )
    return make
"""
"""The inner projects' conftest: ``ask("q1")`` builds the same request as :func:`ask`."""


RESOLVED_EARLY = (MockCodeGenerator, PromptBuilder)  # resolved now, for the same reason


def ask(query: str) -> PythonExecutionRequest:
    return PythonExecutionRequest(
        user_query=query, task_objective="plugin tests", execution_folder_name="plugin"
    )


def make_project(pytester: pytest.Pytester, **modules: str) -> Path:
    """An inner test project: ini, the ``ask`` fixture, and the given test modules."""
    pytester.makefile(".ini", pytest=INI)
    pytester.makeconftest(CONFTEST)
    for name, source in modules.items():
        pytester.makepyfile(**{name: source})
    return pytester.path


def write_cassette(path: Path, answers: dict[str, str]) -> None:
    """A cassette with one recorded entry per query (ids e1, e2, ...)."""
    entries = [
        entry_from_pair(entry_id=f"e{n}", request=ask(query), error_chain=[], code=code,
                        match_on=DEFAULT_MATCH_ON)
        for n, (query, code) in enumerate(answers.items(), start=1)
    ]
    CassetteStore(path).write(Cassette(entries, path=str(path)))


def codes_by_query(path: Path) -> dict[str, str]:
    """What a cassette file answers, by user_query."""
    return {
        str((entry.request or {}).get("user_query")): entry.code.strip()
        for entry in load_cassette(path).entries
    }


def read_report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
