"""Regenerate cassettes/demo/beam_statistics.yaml, the cassette `replaycodegen run` replays.

It is really recorded: `replaycodegen record` runs the full service loop against
`replaycodegen.testing.FakeOpenAIServer` (an OpenAI-compatible server on 127.0.0.1), whose
two answers are scripted so that attempt 1 fails at runtime (it forgets
`import statistics`: NameError) and attempt 2 fixes it. No real model and no API key are
involved (the fake server accepts any key).

    python scripts/make_demo_cassette.py [--output PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from replaycodegen.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "cassettes" / "demo" / "beam_statistics.yaml"
MODEL = "fake-scripted-model"
DUMMY_KEY = "dummy-key-for-the-fake-server"
QUERY = "What are the beam current statistics right now?"
OBJECTIVE = (
    "Sample BEAM:CURRENT from the control system, return the mean and standard deviation "
    "of the samples and the beam energy in results"
)

FIRST_ANSWER = '''Here is code that samples the beam current and summarises it:

```python
from replaycodegen.runtime import read_channel

samples = [read_channel("BEAM:CURRENT") * (1 + 0.001 * i) for i in range(-5, 6)]
results = {
    "mean_current": round(statistics.mean(samples), 3),
    "stdev_current": round(statistics.stdev(samples), 3),
    "beam_energy": read_channel("BEAM:ENERGY"),
    "samples": len(samples),
}
```
'''

SECOND_ANSWER = '''The NameError comes from a missing import of `statistics`. Fixed:

```python
import statistics

from replaycodegen.runtime import read_channel

samples = [read_channel("BEAM:CURRENT") * (1 + 0.001 * i) for i in range(-5, 6)]
results = {
    "mean_current": round(statistics.mean(samples), 3),
    "stdev_current": round(statistics.stdev(samples), 3),
    "beam_energy": read_channel("BEAM:ENERGY"),
    "samples": len(samples),
}
```
'''


def record_command(output: Path, base_url: str) -> list[str]:
    """The `replaycodegen record` command line this script runs."""
    return [
        "replaycodegen", "record", "--cassette", str(output), "--mode", "rewrite",
        "--model", MODEL, "--base-url", base_url, "--query", QUERY, "--objective", OBJECTIVE,
    ]


def description(output: Path) -> str:
    shown = record_command(output, "http://127.0.0.1:<port>/v1")
    quoted = " ".join(f"'{part}'" if " " in part else part for part in shown)
    return "\n".join([
        "Demo, really recorded but not from a real model: scripts/make_demo_cassette.py",
        "started replaycodegen.testing.FakeOpenAIServer on 127.0.0.1 with two scripted",
        "answers, then ran (with OPENAI_API_KEY set to a dummy value):",
        f"  {quoted}",
        "Attempt 1 forgets `import statistics` and fails at runtime with a NameError;",
        "attempt 2 (its error chain holds that NameError) fixes it.",
        "Regenerate with `python scripts/make_demo_cassette.py` (in a source checkout or",
        "the sdist; the wheel does not ship scripts/).",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    output: Path = args.output
    try:
        shown = output.resolve().relative_to(ROOT)
    except ValueError:
        shown = output
    with FakeOpenAIServer() as server:
        server.queue_response(FIRST_ANSWER)
        server.queue_response(SECOND_ANSWER)
        argv = record_command(shown, server.base_url)
        argv += ["--description", description(shown)]
        env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY}
        completed = subprocess.run(
            [sys.executable, "-m", "replaycodegen.cli", *argv[1:]], cwd=ROOT, env=env,
            check=False,
        )
        if completed.returncode != 0:
            print(f"recording failed (exit {completed.returncode})", file=sys.stderr)
            return completed.returncode
        if len(server.requests) != 2:
            print(f"expected 2 model calls, saw {len(server.requests)}", file=sys.stderr)
            return 1
    output.chmod(0o644)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
