"""Fixtures for the command-line tests: an isolated folder, a runner, sample cassettes."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.cli import cli
from replaycodegen.models import ExecutionError, PythonExecutionRequest
from replaycodegen.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
DEMO = ROOT / "cassettes" / "demo" / "beam_statistics.yaml"

GOOD_CODE = 'values = [40, 2]\nresults = {"value": sum(values)}\n'
BROKEN_CODE = 'results = {"mean": statistics.mean([1, 2])}\n'
FIXED_CODE = 'import statistics\n\nresults = {"mean": statistics.mean([1, 2])}\n'

Invoke = Callable[..., Result]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def request(query: str, objective: str = "answer it") -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query=query, task_objective=objective,
                                  execution_folder_name="cli-tests")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own folder, without keys, CI or colour settings from outside;
    the executor's folders go below it too."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REPLAYCODEGEN_MODEL", "CI", "NO_COLOR",
                 "EDITOR", "VISUAL", "REPLAYCODEGEN_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return work


@pytest.fixture
def invoke() -> Invoke:
    """Run ``replaycodegen ARGS...`` in-process; an exception escaping the CLI fails the test."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), input=input, env=env,
                                    catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"the CLI raised {result.exception!r}:\n{result.output}"
                                 ) from result.exception
        return result

    return run


def write_cassette(path: Path, pairs: Sequence[tuple[PythonExecutionRequest, list[Any], str]],
                   *, description: str | None = None) -> Path:
    """A recorded cassette, built and written through the library."""
    cassette = Cassette(path=str(path), description=description)
    for number, (req, chain, code) in enumerate(pairs, 1):
        cassette.add(entry_from_pair(
            entry_id=f"e{number}", request=req, error_chain=chain, code=code,
            match_on=cassette.match_on,
            meta={"model": "test-model", "usage": {"total_tokens": 10 * number},
                  "recorded_at": "2026-01-02T03:04:05Z"},
        ))
    store = CassetteStore(path)
    store.write(cassette)
    store.close()
    return path


def name_error(code: str = BROKEN_CODE) -> ExecutionError:
    return ExecutionError(error_type="NameError",
                          error_message="NameError: name 'statistics' is not defined",
                          failed_code=code, attempt_number=1, stage="execution")


@pytest.fixture
def sample(isolated: Path) -> Path:
    """Two recorded requests: 'add numbers' succeeds at once (e1); 'mean' fails with a
    NameError (e2) and is fixed on the retry (e3)."""
    return write_cassette(isolated / "sample.yaml", [
        (request("add numbers"), [], GOOD_CODE),
        (request("mean"), [], BROKEN_CODE),
        (request("mean"), [name_error()], FIXED_CODE),
    ], description="Sample recorded cassette for the CLI tests.")


@pytest.fixture
def demo_copy(isolated: Path) -> Path:
    target = isolated / "demo.yaml"
    shutil.copyfile(DEMO, target)
    return target


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lost connections are retried at once (the recorder's real waits are 1, 2, 4 s)."""
    from replaycodegen.generation.call_gate import CallGate

    monkeypatch.setattr(CallGate, "_backoff", lambda self, attempt, retry_after: 0.0)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """An OpenAI-compatible server on 127.0.0.1 to record from."""
    with FakeOpenAIServer() as running:
        yield running
