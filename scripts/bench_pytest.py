#!/usr/bin/env python
"""The pytest plugin's per-test overhead, side by side with pytest-recording, in one run.

    .venv/bin/python scripts/bench_pytest.py               # 1,000 tests, 5 rounds
    .venv/bin/python scripts/bench_pytest.py --tests 200 --reps 1

Suites of the same size (modules of 100 tests), each run serially and with ``-n 2``:

- ``plain``: no replaycodegen, no pytest-recording; each test asks a conftest fixture for
  code, which answers at once (what the others are measured against); the replaycodegen
  suite's cassette files lie on disk unread, as pytest walks their folders while
  collecting any suite that has them;
- ``floor``: the least a replayer of a small file per test can do (``FLOOR_CONFTEST``: the
  fixture reads and decodes the test's own key -> code JSON file, the call hashes the
  request as replaycodegen does; no checks, cache, guard or report): where the floor of
  any per-test cassette is on this machine;
- ``replaycodegen``: each test uses the ``codegen`` fixture and replays its own 3-entry
  cassette (``cassettes/<module>/<test>.codegen.yaml``) in record mode ``none``, with the
  live-call guard on (the default);
- ``pytest-recording``: each test is ``@pytest.mark.vcr`` and replays one chat completion
  (``POST https://api.openai.com/v1/chat/completions``) from its own 3-interaction vcrpy
  cassette in ``--record-mode=none``, through a module-level httpx2 client (the least a
  vcrpy replay costs);
- ``pytest-recording-sdk``: the same through a module-level ``openai.OpenAI`` client, as an
  LLM test that pytest-recording replays makes the call.

The overhead per test is (suite - plain) / tests, the median over ``reps`` rounds of the
difference within a round (every suite once per round, rounds interleaved, one warm-up
round); the suite times shown are the best of the rounds. Also the ``pytest`` section
of scripts/bench.py. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PER_MODULE = 100
ENTRIES_PER_CASSETTE = 3
PLUGINS_OFF = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
"""Without the unrelated plugins of the dev venv (hypothesis alone adds ~0.6 s of import
per run), so the differences are the plugins under test."""
WITHOUT_REPLAYCODEGEN = ("-p", "no:replaycodegen")
WITHOUT_RECORDING = ("-p", "no:recording")
SERIAL = ("-p", "no:xdist")
PARALLEL = ("-n", "2")

PYTEST_INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
"""

HEADER = """\
import asyncio

import pytest

from replaycodegen import PythonExecutionRequest

LOOP = asyncio.new_event_loop()


def ask(n):
    return PythonExecutionRequest(user_query=f"question {n}", task_objective="mean",
                                  execution_folder_name="bench")
"""

PLAIN_CONFTEST = """\
import pytest


class Answer:
    async def generate_code(self, request, error_chain):
        return "results = {'value': 1}"


@pytest.fixture
def codegen():
    return Answer()
"""
"""The floor: a fixture that answers without any cassette or plugin."""

FLOOR_CONFTEST = """\
import hashlib
import json
import os

import pytest

MATCH_ON = ("user_query", "task_objective", "expected_results", "capability_prompts",
            "capability_context_data")


class Replayer:
    def __init__(self, codes):
        self.codes = codes

    async def generate_code(self, request, error_chain):
        fields = {name: getattr(request, name) for name in MATCH_ON}
        payload = json.dumps({"request": fields, "errors": list(error_chain)},
                             sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return self.codes[hashlib.sha256(payload.encode()).hexdigest()]


@pytest.fixture
def codegen(request):
    node = request.node
    path = os.path.join(os.path.dirname(node.path), "cassettes", node.module.__name__,
                        node.name + ".floor.json")
    with open(path, "rb") as handle:
        return Replayer(json.loads(handle.read()))
"""
"""The least a replayer of a cassette per test can do: read the test's own small file
(key -> code, JSON) once, and at the call hash the request as replaycodegen does; no
checks, no cache, no guard, no report. Measured to show where the per-test floor is."""

CODEGEN_TEST = """

def test_generate_{n}(codegen):
    code = LOOP.run_until_complete(codegen.generate_code(ask(1), []))
    assert "results" in code
"""

VCR_HEADER = """\
import httpx2
import pytest

CLIENT = httpx2.Client()
URL = "https://api.openai.com/v1/chat/completions"


def body(n):
    return {{"model": "gpt-4o-mini",
            "messages": [{{"role": "user", "content": f"question {{n}}"}}]}}
"""

SDK_HEADER = """\
import openai
import pytest

CLIENT = openai.OpenAI(api_key="sk-bench", base_url="https://api.openai.com/v1", max_retries=0)
"""

SDK_TEST = """

@pytest.mark.vcr
def test_generate_{n}():
    reply = CLIENT.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": "question 1"}}])
    assert "results" in reply.choices[0].message.content
"""

VCR_TEST = """

@pytest.mark.vcr
def test_generate_{n}():
    reply = CLIENT.post(URL, json=body(1), headers={{"authorization": "Bearer sk-bench"}})
    assert "results" in reply.json()["choices"][0]["message"]["content"]
"""

CODEGEN_SUFFIX = os.environ.get("BENCH_CODEGEN_SUFFIX", ".codegen.yaml")
"""``BENCH_CODEGEN_SUFFIX=.yaml`` measures a checkout from before the ``.codegen.yaml`` name."""
CODE = "results = {'value': %d}\n"


@dataclass(frozen=True)
class Suite:
    name: str
    arguments: tuple[str, ...]
    write: Callable[[Path, int], None]


def _module_numbers(tests: int) -> list[range]:
    return [range(m * PER_MODULE, min(tests, (m + 1) * PER_MODULE))
            for m in range((tests + PER_MODULE - 1) // PER_MODULE)]


def _write_suite(folder: Path, tests: int, header: str, test: str, *,
                 conftest: str | None = None, cassette: str | None = None,
                 suffix: str = ".yaml") -> None:
    """Modules of ``PER_MODULE`` tests; with ``cassette``, that text as each test's own
    cassette ``cassettes/<module>/test_generate_<n><suffix>``."""
    folder.mkdir(parents=True)
    (folder / "pytest.ini").write_text(PYTEST_INI)
    if conftest is not None:
        (folder / "conftest.py").write_text(conftest)
    for m, numbers in enumerate(_module_numbers(tests)):
        module = f"test_suite_{m:02d}"
        (folder / f"{module}.py").write_text(header + "".join(test.format(n=n)
                                                              for n in numbers))
        if cassette is not None:
            cassettes = folder / "cassettes" / module
            cassettes.mkdir(parents=True)
            for n in numbers:
                (cassettes / f"test_generate_{n}{suffix}").write_text(cassette)


def write_plain(folder: Path, tests: int) -> None:
    """The floor, with the same cassette files on disk as the replaycodegen suite (pytest
    walks ``cassettes/`` while collecting, about 30 µs per file here, whatever reads
    them): what is measured is what the plugin adds, not what having files costs."""
    _write_suite(folder, tests, HEADER, CODEGEN_TEST, conftest=PLAIN_CONFTEST,
                 cassette=_replaycodegen_cassette(), suffix=CODEGEN_SUFFIX)


def write_floor(folder: Path, tests: int) -> None:
    """The floor replayer (``FLOOR_CONFTEST``), each test with its own key -> code file
    (as many files as the other suites have cassettes)."""
    from replaycodegen.cassette.keys import fingerprint
    from replaycodegen.models import PythonExecutionRequest

    codes = {fingerprint(PythonExecutionRequest(user_query=f"question {n}",
                                                task_objective="mean",
                                                execution_folder_name="bench")): CODE % n
             for n in range(1, ENTRIES_PER_CASSETTE + 1)}
    _write_suite(folder, tests, HEADER, CODEGEN_TEST, conftest=FLOOR_CONFTEST,
                 cassette=json.dumps(codes), suffix=".floor.json")


def _replaycodegen_cassette() -> str:
    from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
    from replaycodegen.cassette.model import Cassette, entry_from_pair
    from replaycodegen.cassette.writing.serialize import dump_cassette
    from replaycodegen.models import PythonExecutionRequest

    def ask(n: int) -> PythonExecutionRequest:
        return PythonExecutionRequest(user_query=f"question {n}", task_objective="mean",
                                      execution_folder_name="bench")

    entries = [entry_from_pair(entry_id=f"e{n}", request=ask(n), error_chain=[],
                               code=CODE % n, match_on=DEFAULT_MATCH_ON)
               for n in range(1, ENTRIES_PER_CASSETTE + 1)]
    return dump_cassette(Cassette(entries))


def write_replaycodegen(folder: Path, tests: int) -> None:
    _write_suite(folder, tests, HEADER, CODEGEN_TEST, cassette=_replaycodegen_cassette(),
                 suffix=CODEGEN_SUFFIX)


def _interaction(n: int) -> dict[str, Any]:
    request_body = {"model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": f"question {n}"}]}
    reply = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
             "model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": f"```python\n{CODE % n}```"}}]}
    return {
        "request": {"body": json.dumps(request_body, separators=(",", ":")),
                    "headers": {"content-type": ["application/json"]}, "method": "POST",
                    "uri": "https://api.openai.com/v1/chat/completions"},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"content-type": ["application/json"]},
                     "body": {"string": json.dumps(reply)}},
    }


def write_recording(folder: Path, tests: int, sdk: bool = False) -> None:
    import yaml

    conftest = ("import pytest\n\n\n@pytest.fixture(scope='module')\ndef vcr_config():\n"
                "    return {'match_on': ['method', 'uri', 'body']}\n")
    cassette = {"version": 1, "interactions": [_interaction(n) for n in
                                              range(1, ENTRIES_PER_CASSETTE + 1)]}
    header, test = (SDK_HEADER, SDK_TEST) if sdk else (VCR_HEADER.format(), VCR_TEST)
    _write_suite(folder, tests, header, test, conftest=conftest,
                 cassette=yaml.safe_dump(cassette, sort_keys=False))


SUITES = (
    Suite("plain", (*WITHOUT_REPLAYCODEGEN, *WITHOUT_RECORDING), write_plain),
    Suite("floor", (*WITHOUT_REPLAYCODEGEN, *WITHOUT_RECORDING), write_floor),
    Suite("replaycodegen", WITHOUT_RECORDING, write_replaycodegen),
    Suite("pytest-recording", (*WITHOUT_REPLAYCODEGEN, "--record-mode=none"), write_recording),
    Suite("pytest-recording-sdk", (*WITHOUT_REPLAYCODEGEN, "--record-mode=none"),
          lambda folder, tests: write_recording(folder, tests, sdk=True)),
)
MODES: dict[str, tuple[str, ...]] = {"serial": SERIAL, "-n 2": PARALLEL}


def child_env() -> dict[str, str]:
    """No inherited pytest or coverage settings. Bytecode is written as usual (the warm-up
    round writes it): compiling stale modules on every run would be measured instead."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_CORE", "PYTHONDONTWRITEBYTECODE"))
           and k != "PYTHONPATH"}
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(folder: Path, arguments: Sequence[str], mode: Sequence[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole pytest process; CPU counts the xdist workers too
    and is less disturbed by other load on a shared machine."""
    command = [sys.executable, "-m", "pytest", "-q", *PLUGINS_OFF, *mode, "-c",
               str(folder / "pytest.ini"), "--rootdir", str(folder), *arguments, str(folder)]
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=folder,
                          timeout=900)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        raise RuntimeError(f"{folder.name} {' '.join(mode)} failed: {tail[-500:]}")
    return wall, cpu


def available() -> list[str]:
    """The suites this environment can run (pytest-recording and xdist are dev extras)."""
    import importlib.util

    names = ["plain", "floor", "replaycodegen"]
    if importlib.util.find_spec("pytest_recording") is not None:
        names.append("pytest-recording")
        if importlib.util.find_spec("openai") is not None:
            names.append("pytest-recording-sdk")
    return names


def measure(tests: int, reps: int, folder: Path,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Best-of-``reps`` wall time of every suite in every mode, runs interleaved."""
    import importlib.util

    names = available()
    modes = dict(MODES) if importlib.util.find_spec("xdist") else {"serial": SERIAL}
    suites = [s for s in SUITES if s.name in names]
    for suite in suites:
        suite.write(folder / suite.name, tests)
    # Cassettes seconds old are not trusted by their stat signature (the parsed-cassette
    # cache's racy margin, 2 s): the warm-up would parse them, the first round would hash
    # every one and note its signature. Measured here is a checkout older than that.
    time.sleep(2.5)
    runs: dict[str, dict[str, list[float]]] = {m: {s.name: [] for s in suites} for m in modes}
    cpus: dict[str, dict[str, list[float]]] = {m: {s.name: [] for s in suites} for m in modes}
    warmup = 1 if reps > 1 else 0
    for rep in range(warmup + reps):
        for mode, mode_args in modes.items():
            for suite in suites:
                wall, cpu = run_suite(folder / suite.name, suite.arguments, mode_args)
                if rep >= warmup:
                    runs[mode][suite.name].append(wall)
                    cpus[mode][suite.name].append(cpu)
        log(f"  pytest suites: run {rep + 1} of {warmup + reps} done")
    results: dict[str, Any] = {"tests": tests, "reps": reps, "modes": {},
                               "load_average": os.getloadavg()}
    for mode, by_suite in runs.items():
        best = {name: min(times) for name, times in by_suite.items()}
        best_cpu = {name: min(times) for name, times in cpus[mode].items()}
        overhead = {name: _paired(by_suite[name], by_suite["plain"], tests)
                    for name in best if name != "plain"}
        overhead_cpu = {name: _paired(cpus[mode][name], cpus[mode]["plain"], tests)
                        for name in best_cpu if name != "plain"}
        results["modes"][mode] = {"best_s": best, "overhead_per_test_us": overhead,
                                  "runs_s": by_suite, "best_cpu_s": best_cpu,
                                  "cpu_overhead_per_test_us": overhead_cpu,
                                  "cpu_runs_s": cpus[mode]}
    return results


def _paired(suite: list[float], plain: list[float], tests: int) -> float:
    """µs per test over the plain suite: the median over rounds of (suite - plain) in the
    same round. A round's two runs are seconds apart, so a slow spell of a shared machine
    slows both; best-of-N of each alone pairs a lucky plain run with an unlucky other."""
    import statistics

    return statistics.median(s - p for s, p in zip(suite, plain, strict=True)) / tests * 1e6


TARGET_US = 500
TARGET_RATIO = 0.05


def summary_lines(results: dict[str, Any]) -> list[tuple[str, str, str, bool, str, dict[str, Any]]]:
    """(id, label, figure, met, target, data) per mode."""
    lines = []
    for mode, data in results["modes"].items():
        best, overhead = data["best_s"], data["overhead_per_test_us"]
        ours = overhead["replaycodegen"]
        figure = (f"plain {best['plain']:.2f} s; replaycodegen {best['replaycodegen']:.2f} s "
                  f"({ours:+,.0f} µs per test)")
        ratios: dict[str, float] = {}
        for name in ("pytest-recording", "pytest-recording-sdk"):
            theirs = overhead.get(name)
            if theirs is None:
                continue
            figure += f"; {name} {best[name]:.2f} s ({theirs:+,.0f} µs per test"
            if theirs > 0:
                ratios[name] = ours / theirs
                figure += f", ours {ratios[name]:.2f}x of it"
            figure += ")"
        floor = overhead.get("floor")
        if floor is not None:
            figure += f"; floor {best['floor']:.2f} s ({floor:+,.0f} µs per test"
            theirs = overhead.get("pytest-recording")
            if theirs:
                figure += f", {floor / theirs:.2f}x of pytest-recording's"
            figure += ")"
        cpu = data["cpu_overhead_per_test_us"]
        figure += "; CPU per test: " + ", ".join(f"{name} {value:+,.0f} µs"
                                                 for name, value in cpu.items())
        # below the floor is noise (a loaded machine), not a pass
        met = 0 <= ours <= TARGET_US and all(0 <= r <= TARGET_RATIO for r in ratios.values())
        suffix = "" if mode == "serial" else "_n2"
        label = (f"pytest, {results['tests']:,} tests each with its own "
                 f"{ENTRIES_PER_CASSETTE}-entry cassette ({mode})")
        target = f"<= {TARGET_US} µs per test and <= {TARGET_RATIO}x pytest-recording"
        lines.append((f"pytest_plugin{suffix}", label, figure, met, target,
                      {**data, "ratios": ratios, "tests": results["tests"]}))
    return lines


def bench_pytest(tests: int, reps: int, folder: Path, add_row: Callable[..., Any],
                 log: Callable[[str], None] = print) -> None:
    """The ``pytest`` section of scripts/bench.py: ``add_row(id=, label=, figure=, ...)``."""
    try:
        results = measure(tests, reps, folder, log)
    except RuntimeError as exc:
        add_row(id="pytest_plugin", label="pytest plugin overhead", figure=f"n/a ({exc})",
                status="n/a")
        return
    for row_id, label, figure, met, target, data in summary_lines(results):
        add_row(id=row_id, label=label, figure=figure, target=target,
                status="PASS" if met else "MISS", data=data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="replaycodegen-bench-pytest-"))
    try:
        results = measure(args.tests, args.reps, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for _id, label, figure, met, target, _data in summary_lines(results):
        print(f"{label}: {figure}  [{target}: {'PASS' if met else 'MISS'}]")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
