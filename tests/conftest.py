"""Shared fixtures: sample requests and chains, as the seed's conftest describes."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from replaycodegen import ExecutionError, PythonExecutionRequest
from replaycodegen.cassette.writing.locking import LOCK_DIR_ENV

if "REPLAYCODEGEN_CACHE_DIR" not in os.environ:
    # The parsed-cassette cache of this test run (and of the processes it starts): a temp
    # folder, never the user's cache. xdist workers inherit it from the controller.
    _CACHE_DIR = tempfile.mkdtemp(prefix="replaycodegen-test-cache-")
    os.environ["REPLAYCODEGEN_CACHE_DIR"] = _CACHE_DIR
    atexit.register(shutil.rmtree, _CACHE_DIR, True)


@pytest.fixture(autouse=True, scope="session")
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Cassette lock files of this test session (and its subprocesses) in its temp folder,
    not in the user cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv(LOCK_DIR_ENV, str(tmp_path_factory.mktemp("cassette-locks")))
    yield
    mp.undo()


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and count) DNS lookups: a blocked call must not even resolve its host."""
    lookups: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args)
        raise OSError("tests: no DNS here")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return lookups


@pytest.fixture
def request_obj() -> PythonExecutionRequest:
    """The seed's sample request."""
    return PythonExecutionRequest(
        user_query="Calculate test value",
        task_objective="Test computation",
        execution_folder_name="test",
    )


@pytest.fixture
def zero_division_error() -> ExecutionError:
    return ExecutionError(
        error_type="ZeroDivisionError",
        error_message="ZeroDivisionError: division by zero",
        failed_code="results = 1 / 0",
        traceback='Traceback (most recent call last):\n  File "/tmp/exec-1/main.py", line 1',
        attempt_number=1,
        stage="execution",
    )
