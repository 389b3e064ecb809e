"""Benchmarks of the CI-at-scale layer (``replaycodegen.lifecycle``), run by scripts/bench.py.

- ``report_end``: what the end of a session pays to know every used cassette's entry ids:
  re-parsing each cassette file (what replaycodegen 0.1 did, the anchor) against the ids the
  tests already had in memory (now);
- ``report_overhead``: a pytest suite replaying cassette files, with and without
  ``--codegen-report=DIR/ --codegen-ledger=DIR/`` (per test; best of the repetitions);
- ``combine``: reading and combining the reports of many shards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, int]] = {
    "full": {"cassettes": 200, "entries": 200, "tests": 1000, "reps": 3, "shards": 10,
             "combine_cassettes": 1000, "combine_entries": 100},
    "quick": {"cassettes": 50, "entries": 100, "tests": 300, "reps": 2, "shards": 5,
              "combine_cassettes": 300, "combine_entries": 50},
    "smoke": {"cassettes": 5, "entries": 10, "tests": 20, "reps": 1, "shards": 2,
              "combine_cassettes": 10, "combine_entries": 5},
}
CODE = "\n".join(f"value_{i} = {i} * 2" for i in range(15)) + "\nresults = {'value': 1}\n"


def _request(query: str) -> Any:
    from replaycodegen import PythonExecutionRequest

    return PythonExecutionRequest(user_query=query, task_objective="bench lifecycle",
                                  execution_folder_name="bench")


def _write_cassettes(folder: Path, count: int, entries: int) -> list[Path]:
    from replaycodegen.cassette.model import Cassette, entry_from_pair
    from replaycodegen.cassette.writing.store import CassetteStore

    paths = []
    for c in range(count):
        path = folder / f"test_c{c:04d}.yaml"
        cassette = Cassette(path=str(path))
        for n in range(entries):
            cassette.add(entry_from_pair(entry_id=f"e{n + 1}", request=_request(f"c{c}-q{n}"),
                                         error_chain=[], code=CODE, match_on=cassette.match_on))
        store = CassetteStore(path)
        store.write(cassette)
        store.close()
        Path(f"{path}.lock").unlink(missing_ok=True)
        paths.append(path)
    return paths


def _report_end(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    from replaycodegen.cassette.loading.loader import load_cassette
    from replaycodegen.pytest_plugin._report import CassetteTally, CodegenLedger, build_reports

    paths = _write_cassettes(folder, sizes["cassettes"], sizes["entries"])
    started = time.perf_counter()
    reread = {str(p): [e.id for e in load_cassette(p).entries] for p in paths}
    reread_s = time.perf_counter() - started
    ledger = CodegenLedger()
    for path, ids in reread.items():
        ledger.tallies[path] = CassetteTally(played={ids[0]}, users={"t"})
        ledger.expected[path] = {"t"}
        ledger.entries[path] = ids
    ledger.passed.add("t")
    started = time.perf_counter()
    reports = build_reports(ledger, partial_run=False)
    memory_s = time.perf_counter() - started
    assert sum(len(r.unused) for r in reports) == len(paths) * (sizes["entries"] - 1)
    return {"reread_ms": reread_s * 1e3, "in_memory_ms": memory_s * 1e3}


def _accounting(sizes: dict[str, int]) -> dict[str, float]:
    """The per-test bookkeeping the report needs (replay of a known cassette), in-process."""
    from replaycodegen.pytest_plugin._generators import CassetteUse
    from replaycodegen.pytest_plugin._report import CodegenLedger

    tests = sizes["tests"] * 20
    ledger = CodegenLedger()
    path = Path("/bench/cassettes/test_x/shared.yaml")
    ledger.entries[str(path)] = [f"e{n}" for n in range(sizes["entries"])]
    started = time.perf_counter()
    for n in range(tests):
        use = CassetteUse(path, {f"e{n % sizes['entries']}"})
        ledger.add_use(use, f"tests/test_x.py::test_{n}", misses=[])
    elapsed = time.perf_counter() - started
    wire_started = time.perf_counter()
    CodegenLedger().merge_wire(ledger.to_wire())
    wire = time.perf_counter() - wire_started
    return {"tests": tests, "per_test_us": elapsed / tests * 1e6,
            "wire_us_per_test": wire / tests * 1e6}


SUITE = """
import asyncio
import pytest
from replaycodegen import PythonExecutionRequest

LOOP = asyncio.new_event_loop()

def ask(query):
    return PythonExecutionRequest(user_query=query, task_objective="bench lifecycle",
                                  execution_folder_name="bench")
"""
TEST = """
@pytest.mark.codegen_cassette({path!r})
def test_{n}(codegen):
    assert LOOP.run_until_complete(codegen.generate_code(ask({query!r}), []))
"""


def _pytest_overhead(sizes: dict[str, int], folder: Path, env: dict[str, str]) -> dict[str, Any]:
    cassettes = _write_cassettes(folder / "cassettes", max(1, sizes["cassettes"] // 5),
                                 sizes["entries"])
    suite = folder / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    tests = sizes["tests"]
    body = SUITE + "".join(
        TEST.format(path=str(cassettes[n % len(cassettes)]), n=n,
                    query=f"c{n % len(cassettes)}-q{(n // len(cassettes)) % sizes['entries']}")
        for n in range(tests))
    (suite / "test_suite.py").write_text(body)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
            "no:hypothesispytest", "-p", "no:xdist", "-c", str(suite / "pytest.ini"),
            "--rootdir", str(suite), str(suite)]
    variants = {"plain": [], "report_ledger": [f"--codegen-report={folder}/reports/",
                                               f"--codegen-ledger={folder}/ledgers/"]}
    best: dict[str, float] = {}
    for _ in range(sizes["reps"]):
        for name, extra in variants.items():
            started = time.perf_counter()
            proc = subprocess.run([*base, *extra], env=env, cwd=suite, capture_output=True,
                                  text=True, timeout=900)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                raise RuntimeError(f"{name} suite failed: {proc.stdout[-500:]}")
            best[name] = min(best.get(name, wall), wall)
    report_file = next((folder / "reports").glob("*.json"))
    size_kib = report_file.stat().st_size / 1024
    per_test_us = (best["report_ledger"] - best["plain"]) / tests * 1e6
    return {"tests": tests, "plain_s": best["plain"], "report_ledger_s": best["report_ledger"],
            "per_test_us": per_test_us, "report_kib": size_kib}


def _combine(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    from replaycodegen.atomic import write_json
    from replaycodegen.lifecycle.ci.combine import combine_reports
    from replaycodegen.lifecycle.ci.reports import CassetteRecord, RunReport, read_report
    from replaycodegen.lifecycle.ci.shards import Shard

    shards, count, entries = sizes["shards"], sizes["combine_cassettes"], sizes["combine_entries"]
    ids = [f"e{n}" for n in range(1, entries + 1)]
    files = []
    for index in range(1, shards + 1):
        report = RunReport(run_id=str(index), started_at="2026-01-01T00:00:00.000000Z",
                           finished_at="", root=str(folder), shard=Shard(index, shards))
        for c in range(index - 1, count, shards):
            name = f"tests/cassettes/c{c}.yaml"
            tests = [f"tests/test_{c}.py::test_{k}" for k in range(3)]
            report.owned[name] = tests
            report.passed.extend(tests)
            report.collected.extend(tests)
            report.cassettes[name] = CassetteRecord(entries=ids, played=ids[: entries // 2],
                                                    owners=tests, users=tests)
        path = folder / f"report-{index}.json"
        write_json(path, report.to_data())
        files.append(path)
    started = time.perf_counter()
    runs = [read_report(p) for p in files]
    read_s = time.perf_counter() - started
    combined = combine_reports(runs)  # type: ignore[arg-type]
    total_s = time.perf_counter() - started
    assert len(combined.cassettes) == count
    return {"shards": shards, "cassettes": count, "entries": entries, "read_ms": read_s * 1e3,
            "total_ms": total_s * 1e3,
            "bytes": sum(p.stat().st_size for p in files)}


def bench_lifecycle(profile: str, folder: Path, add: Callable[..., Any],
                    env: dict[str, str]) -> None:
    """Add the rows; ``add(id=, label=, figure=, data=)`` makes and records one."""
    sizes = SIZES.get(profile, SIZES["quick"])
    folder.mkdir(parents=True, exist_ok=True)
    end = _report_end(sizes, folder / "end")
    add(id="lifecycle_report_end",
        label=f"session end: entry ids of {sizes['cassettes']} cassettes x {sizes['entries']} "
        "entries",
        figure=f"{end['in_memory_ms']:.2f} ms from memory (re-parsing the files, as 0.1 did: "
        f"{end['reread_ms']:.0f} ms)", data=end)
    acc = _accounting(sizes)
    add(id="lifecycle_accounting",
        label=f"per-test bookkeeping for the report, {acc['tests']} replaying tests",
        figure=f"{acc['per_test_us']:.1f} us/test, +{acc['wire_us_per_test']:.1f} us/test "
        "to send from an xdist worker", data=acc)
    over = _pytest_overhead(sizes, folder / "pytest", env)
    add(id="lifecycle_report_overhead",
        label=f"--codegen-report + --codegen-ledger, {over['tests']} replaying tests",
        figure=f"{over['per_test_us']:+.0f} us/test ({over['plain_s']:.2f} s without, "
        f"{over['report_ledger_s']:.2f} s with; report {over['report_kib']:.0f} KiB)",
        data=over)
    comb = _combine(sizes, folder / "combine")
    add(id="lifecycle_combine",
        label=f"combine {comb['shards']} shard reports, {comb['cassettes']} cassettes x "
        f"{comb['entries']} entries",
        figure=f"{comb['total_ms']:.0f} ms ({comb['read_ms']:.0f} ms reading "
        f"{comb['bytes'] / 1024:.0f} KiB)", data=comb)


if __name__ == "__main__":  # a quick look without the rest of the benchmark
    import tempfile

    def show(**row: Any) -> None:
        print(f"{row['label']}: {row['figure']}")
        print("  " + json.dumps(row["data"]))

    with tempfile.TemporaryDirectory() as tmp:
        bench_lifecycle(sys.argv[1] if len(sys.argv) > 1 else "quick", Path(tmp), show,
                        dict(os.environ))
