"""Rewrite benchmarks: the rewrite race, and the cost of a comment-preserving rewrite.

- ``race``: N recording processes append to one cassette while one process per rewrite
  kind (``edit``, ``lint --fix``, ``scrub``, ``craft``, ``prune``, ``rehash``, and the
  recorder's ``all``) rewrites it M times; then: entries acknowledged by the recorders vs
  present in the file, and whether each rewrite's own change is there. The test suite runs
  the same race, small (``tests/recording/test_rewrite_race.py``).
- ``one_entry``: replacing one entry of a 10,000-entry cassette with
  ``rewrite_entries`` (the text of that entry spliced in, comments kept) next to a full
  dump of the same cassette (what every rewrite did before) and a plain load (the floor).

Run alone: ``.venv/bin/python scripts/bench_rewrite.py [--quick]``; ``scripts/bench.py``
runs it as its ``rewrite`` section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("edit", "lint", "scrub", "craft", "prune", "rehash", "all")

_RECORDER = textwrap.dedent("""
    import asyncio, os, sys, time
    from replaycodegen import PythonExecutionRequest
    from replaycodegen.generation import RecordingCodeGenerator

    class Gen:
        async def generate_code(self, request, chain):
            return f"results = {{'q': {request.user_query!r}}}\\n"
        def get_generation_metadata(self):
            return {"model": "race"}

    async def main(path, worker, stop, cap):
        rec = RecordingCodeGenerator(Gen(), path, "new_episodes")
        for i in range(cap):
            if os.path.exists(stop):
                break
            query = f"w{worker}-{i}"
            request = PythonExecutionRequest(user_query=query, task_objective="race",
                                             execution_folder_name="f")
            await rec.generate_code(request, [])
            print(query, flush=True)   # acknowledged: generate_code returned
            time.sleep(0.01)
        rec.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
""")

_DRIVER = textwrap.dedent("""
    import asyncio, json, os, sys
    from pathlib import Path
    from click.testing import CliRunner
    from replaycodegen import PythonExecutionRequest
    from replaycodegen.cli import cli
    from replaycodegen.generation import RecordingCodeGenerator
    from replaycodegen.cassette.writing.store import CassetteStore, atomic_write

    path, kind, rounds, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])

    def run(*args):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        if result.exit_code not in (0, 1):
            raise SystemExit(f"{args}: exit {result.exit_code}: {result.output}")

    def plant(entry, token):
        os.environ.pop("RACE_TOKEN", None)  # so that edit writes the token
        code = work / f"{kind}-{entry}.py"
        code.write_text(f"token = {token!r}\\nresults = {{}}\\n")
        run("edit", path, entry, "--code", str(code))
        os.environ["RACE_TOKEN"] = token    # now the token is a secret to find

    class Gen:
        def __init__(self, code):
            self.code = code
        async def generate_code(self, request, chain):
            return self.code
        def get_generation_metadata(self):
            return {"model": "race"}

    for i in range(rounds):
        if kind == "edit":
            code = work / f"edit-{i}.py"
            code.write_text(f"results = {{'edit': {i}}}\\n")
            run("edit", path, "x1", "--code", str(code))
        elif kind == "lint":
            plant("x2", f"lint-token-{i}-abcdefgh")
            run("lint", "--fix", path)
        elif kind == "scrub":
            plant("x3", f"scrub-token-{i}-abcdefgh")
            run("scrub", path)
        elif kind == "craft":
            run("craft", path, "--entry", f"c{i}", "--inject", "runtime_error")
        elif kind == "prune":
            report = work / f"report-{i}.json"
            report.write_text(json.dumps(
                {"version": 1, "cassettes": {path: {"unused": [f"p{i}"]}}}))
            run("prune", path, "--unused-from", str(report))
        elif kind == "rehash":
            store = CassetteStore(path)
            target = getattr(store, "target", store.path)  # (0.1 had no target)
            with store.locked():  # a hand edit of a request (held lock: the harness loses nothing)
                text = target.read_text()
                edited = text.replace(f"user_query: s{i}\\n", f"user_query: s{i} edited\\n", 1)
                assert edited != text
                atomic_write(target, edited)
            run("rehash", path)
        elif kind == "all":
            rec = RecordingCodeGenerator(Gen(f"results = {{'all': {i}}}\\n"), path, "all")
            request = PythonExecutionRequest(user_query="all-target", task_objective="race",
                                             execution_folder_name="f")
            asyncio.run(rec.generate_code(request, []))
            rec.close()
        print("round", i, flush=True)
""")


@dataclass
class RaceResult:
    recorders: int
    rounds: int
    acknowledged: int
    present: int
    lost: list[str]
    entries: int
    effects: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.lost and all(self.effects.values())


def seed_cassette(path: Path, rounds: int) -> None:
    """The starting cassette: entries for each rewrite kind to work on."""
    from replaycodegen import PythonExecutionRequest
    from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
    from replaycodegen.cassette.model import Cassette, Entry, Pattern, entry_from_pair
    from replaycodegen.cassette.writing.store import CassetteStore

    cassette = Cassette(path=str(path), description="rewrite race")
    for number, name in enumerate(("x1", "x2", "x3"), 7):
        cassette.add(Entry(id=name, code="results = {}\n", when=Pattern(attempt=number)))
    names = [f"{p}{i}" for p in ("c", "p", "s") for i in range(rounds)] + ["all-target"]
    for name in names:
        request = PythonExecutionRequest(user_query=name, task_objective="race",
                                         execution_folder_name="f")
        cassette.add(entry_from_pair(entry_id=name, request=request, error_chain=[],
                                     code=f"results = {{'seed': {name!r}}}\n",
                                     match_on=DEFAULT_MATCH_ON))
    store = CassetteStore(path)
    store.write(cassette)
    store.close()
    path.write_text("# the rewrite race: comments must survive too\n" + path.read_text())


def race(folder: Path, *, recorders: int = 4, rounds: int = 2, cap: int = 400,
         kinds: Sequence[str] = KINDS, timeout: float = 300.0) -> RaceResult:
    """Run the race in ``folder`` and check the result (see the module docstring)."""
    from replaycodegen import load_cassette

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "race.yaml"
    stop = folder / "stop"
    seed_cassette(path, rounds)
    started = time.perf_counter()
    env = dict(os.environ)
    procs = [
        subprocess.Popen([sys.executable, "-c", _RECORDER, str(path), str(w), str(stop),
                          str(cap)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for w in range(recorders)
    ]
    acknowledged: list[str] = []
    for proc in procs:  # every recorder is recording before the rewrites start
        assert proc.stdout is not None
        acknowledged += proc.stdout.readline().split()
    drivers = [
        subprocess.Popen([sys.executable, "-c", _DRIVER, str(path), kind, str(rounds),
                          str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for kind in kinds
    ]
    problems = []
    try:
        for kind, proc in zip(kinds, drivers, strict=True):
            _out, err = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                problems.append(f"{kind}: {err.strip()[-2000:]}")
    finally:
        stop.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            problems.append(f"recorder: {err.strip()[-2000:]}")
        acknowledged += out.split()
    seconds = time.perf_counter() - started
    if problems:
        raise RuntimeError("\n".join(problems))
    cassette = load_cassette(path)
    entries = {e.id: e for e in cassette.entries}
    queries = {str(e.request.get("user_query")) for e in cassette.entries if e.request}
    text = path.read_text()
    last = rounds - 1
    effects: dict[str, bool] = {}
    if "edit" in kinds:
        effects["edit"] = entries["x1"].code == f"results = {{'edit': {last}}}\n"
    if "lint" in kinds:
        effects["lint"] = "lint-token" not in text and "<SCRUBBED>" in entries["x2"].code
    if "scrub" in kinds:
        effects["scrub"] = "scrub-token" not in text and "<SCRUBBED>" in entries["x3"].code
    if "craft" in kinds:
        effects["craft"] = all(f"c{i}-inject-runtime_error" in entries for i in range(rounds))
    if "prune" in kinds:
        effects["prune"] = not any(f"p{i}" in entries for i in range(rounds))
    if "rehash" in kinds:
        effects["rehash"] = all(f"s{i} edited" in queries for i in range(rounds)) and not any(
            e.key_disagrees for e in cassette.entries)
    if "all" in kinds:
        target = [e for e in cassette.entries if e.request and
                  e.request.get("user_query") == "all-target"]
        effects["all"] = [e.code for e in target] == [f"results = {{'all': {last}}}\n"]
    effects["comments"] = text.startswith("# the rewrite race: comments must survive too\n")
    lost = sorted(set(acknowledged) - queries)
    return RaceResult(recorders, rounds, len(acknowledged), len(set(acknowledged) & queries),
                      lost, len(cassette), effects, seconds)


# -- one entry of a big file ------------------------------------------------------------


def _best(fn: Callable[[], Any], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def one_entry(folder: Path, size: int = 10_000, reps: int = 3) -> dict[str, float]:
    """Seconds: load, full dump-and-write, and a comment-preserving one-entry rewrite."""
    from replaycodegen import PythonExecutionRequest, load_cassette
    from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
    from replaycodegen.cassette.model import Cassette, entry_from_pair
    from replaycodegen.cassette.writing.serialize import dump_cassette
    from replaycodegen.cassette.writing.store import CassetteStore, atomic_write, rewrite_entries

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"big-{size}.yaml"
    cassette = Cassette(path=str(path))
    for i in range(size):
        request = PythonExecutionRequest(user_query=f"query {i}", task_objective="bench",
                                         execution_folder_name="f")
        cassette.add(entry_from_pair(
            entry_id=f"e{i + 1}", request=request, error_chain=[],
            code=f"import math\nvalues = [{i}, {i + 1}]\nresults = {{'mean': sum(values) / 2}}\n",
            match_on=DEFAULT_MATCH_ON, meta={"model": "bench", "recorded_at": "2026-01-01"}))
    CassetteStore(path).write(cassette)
    path.write_text("# a comment the rewrite keeps\n" + path.read_text())
    loaded = load_cassette(path)
    middle = loaded.entries[size // 2]
    counter = iter(range(1_000_000))

    def splice() -> None:
        middle.code = f"results = {{'edited': {next(counter)}}}\n"
        rewrite_entries(path, replace=[middle])

    def full() -> None:
        current = load_cassette(path)
        atomic_write(path, dump_cassette(current))

    figures = {
        "load_s": _best(lambda: load_cassette(path), reps),
        "full_dump_s": _best(full, reps),
        "one_entry_s": _best(splice, reps),
    }
    path.write_text("# a comment the rewrite keeps\n" + path.read_text())
    splice()
    figures["comment_kept"] = float(path.read_text().startswith("# a comment the rewrite keeps"))
    return figures


def run_section(profile: str, folder: Path, report: Any, row: Callable[..., Any]) -> None:
    """``scripts/bench.py``'s ``rewrite`` section."""
    small = profile == "smoke"
    result = race(folder / "race", recorders=2 if small else 4, rounds=1 if small else 3,
                  cap=40 if small else 400)
    report.add(row(
        id="rewrite_race", section="rewrite",
        label=f"{result.recorders} recorders + {result.rounds} rewrite(s) of each of "
        f"{len(KINDS)} kinds",
        figure=f"{result.present} of {result.acknowledged} acknowledged entries present, "
        f"{len(result.lost)} lost; every rewrite's change kept: "
        f"{all(result.effects.values())}",
        target="0 lost", status="PASS" if result.ok else "MISS",
        data={"lost": result.lost, "effects": result.effects, "entries": result.entries,
              "seconds": result.seconds},
    ))
    size = 500 if small else (2_000 if profile == "quick" else 10_000)
    figures = one_entry(folder / "one-entry", size=size, reps=1 if small else 3)
    ratio = figures["one_entry_s"] / figures["full_dump_s"]
    report.add(row(
        id="rewrite_one_entry", section="rewrite",
        label=f"rewrite 1 entry of {size:,}, comments kept (vs full dump; load alone)",
        figure=f"{figures['one_entry_s'] * 1000:.0f} ms vs {figures['full_dump_s'] * 1000:.0f} "
        f"ms ({ratio:.2f}x); load {figures['load_s'] * 1000:.0f} ms",
        target="comments kept", status="PASS" if figures["comment_kept"] else "MISS",
        data=figures,
    ))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="replaycodegen-bench-rewrite-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("REPLAYCODEGEN_LOCK_DIR", str(folder / "locks"))
        result = race(folder / "race", recorders=4, rounds=2 if args.quick else 3)
        print(json.dumps({"race": {**result.__dict__, "ok": result.ok}}, indent=2))
        size = 2_000 if args.quick else 10_000
        print(json.dumps({"one_entry": {"size": size, **one_entry(folder / "one", size)}},
                         indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
