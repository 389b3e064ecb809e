"""Recording real cassettes for the freshness tests, through the CLI and the fake server."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result

from replaycodegen.testing import FakeOpenAIServer
from tests.cli.conftest import Invoke

KEY = "dummy-key-for-the-freshness-tests"
BEAMS = "tests.lifecycle.freshness.builders:BriefAboutBeams"
ERRORS = "tests.lifecycle.freshness.builders:LabelledErrors"
BROKEN = "results = {'value': undefined_name}"


def record(invoke: Invoke, server: FakeOpenAIServer, *args: str) -> Result:
    """``replaycodegen record ...`` against the server, with model fake-model and a key."""
    return invoke("record", "--base-url", server.base_url, "--model", "fake-model", *args,
                  env={"OPENAI_API_KEY": KEY})


def write_requests(path: Path, *queries: str) -> Path:
    lines = ["requests:"]
    lines += [f"  - {{user_query: {q!r}, task_objective: answer it}}" for q in queries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record_sample(invoke: Invoke, server: FakeOpenAIServer, folder: Path) -> Path:
    """``sample.yaml``: 'beam current' fails once with a NameError and is fixed (e1, e2);
    'beam energy' (e3) and 'vacuum pressure' (e4) succeed at once."""
    server.queue_response(f"```python\n{BROKEN}\n```")
    requests = write_requests(folder / "requests.yaml", "beam current", "beam energy",
                              "vacuum pressure")
    result = record(invoke, server, "--cassette", "sample.yaml", "--requests", str(requests))
    assert result.exit_code == 0, result.output
    return folder / "sample.yaml"
