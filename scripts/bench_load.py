#!/usr/bin/env python
"""Loading at scale (issues 11.2, 12.3, 12.4): stale keys, the parsed-cassette cache, memory.

Section ``loadscale`` of scripts/bench.py (``bench.py --only loadscale``), or alone:

    .venv/bin/python scripts/bench_load.py            # 10,000 / 1,000 files / 100,000
    .venv/bin/python scripts/bench_load.py --quick    # 2,000 / 200 files / 20,000
    .venv/bin/python scripts/bench_load.py --smoke    # tiny: checks the machinery

Each figure is printed next to its anchor measured in the same run:

1. ``load_cassette`` of N entries whose stored keys are all stale vs the same entries with
   correct keys (and ``replaycodegen rehash`` of the stale file), next to
   ``yaml.load(text, Loader=yaml.CSafeLoader)`` of the same file;
2. a second load (a cache hit) vs the first load (parse + cache write) of an unchanged
   N-entry cassette, and of M small cassettes (5 entries each);
3. peak RSS (``ru_maxrss`` of a fresh process) of loading a large cassette, against the
   file's size, next to ``yaml.load`` of the same file and the whole-document parse.

Times are the best of a few runs of wall-clock time (``perf_counter``); the CPU time of the
same runs is in the JSON. The files are written first and are more than 2 s old when they
are loaded, as committed cassettes are (younger files are hashed on every hit: see
``RACY_NS`` in replaycodegen/cassette/cache.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))


@dataclass(frozen=True)
class Sizes:
    entries: int
    small_files: int
    memory_entries: int
    reps: int


SIZES = {
    "full": Sizes(entries=10_000, small_files=1_000, memory_entries=100_000, reps=3),
    "quick": Sizes(entries=2_000, small_files=200, memory_entries=20_000, reps=3),
    "smoke": Sizes(entries=100, small_files=20, memory_entries=500, reps=1),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def best(run: Callable[[], Any], reps: int, before: Callable[[], None] | None = None
         ) -> tuple[float, float]:
    """(best wall-clock seconds, CPU seconds of that run) over ``reps`` runs."""
    results = []
    for _ in range(max(reps, 1)):
        if before is not None:
            before()
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        kept = run()
        results.append((time.perf_counter() - wall, time.process_time() - cpu))
        del kept
    return min(results)


# -- workloads -----------------------------------------------------------------------------


def write_cassette(items: Sequence[Any], path: Path) -> Path:
    """A cassette of ``items`` as the recorder writes it (header, then one entry each)."""
    from bench_workload import describe, to_cassette

    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cassette.writing.serialize import dump_entry, header_to_data
    from replaycodegen.cassette.yamlio import dump

    with path.open("w", encoding="utf-8") as handle:
        handle.write(dump(header_to_data(Cassette(description=describe(len(items))))))
        handle.write("entries:\n")
        for entry in to_cassette(list(items)).entries:
            handle.write(dump_entry(entry))
    return path


def make_stale(path: Path, target: Path) -> Path:
    """The same file after a hand edit of every request: every stored key is stale."""
    text = path.read_text(encoding="utf-8")
    target.write_text(re.sub(r"(?m)^(      user_query: )", r"\1(edited) ", text), "utf-8")
    return target


def wait_until_older_than(paths: Sequence[Path], seconds: float) -> None:
    newest = max(p.stat().st_ctime for p in paths)
    time.sleep(max(0.0, newest + seconds - time.time()))


# -- 1. stale keys ----------------------------------------------------------------------------


def bench_stale(sizes: Sizes, folder: Path, items: Sequence[Any]) -> list[dict[str, Any]]:
    import yaml
    from click.testing import CliRunner

    from replaycodegen.cassette.loading.loader import load_cassette
    from replaycodegen.cli import app

    n = sizes.entries
    fresh = write_cassette(items[:n], folder / f"fresh-{n}.yaml")
    stale = make_stale(fresh, folder / f"stale-{n}.yaml")
    log(f"loadscale: stale vs fresh keys, {n:,} entries...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh_s, fresh_cpu = best(lambda: load_cassette(fresh, cache=False), sizes.reps)
        stale_s, stale_cpu = best(lambda: load_cassette(stale, cache=False), sizes.reps)
        stale_check = load_cassette(stale, cache=False)
        assert all(e.key_disagrees for e in stale_check.entries), "the workload is not stale"
        del stale_check
    text = fresh.read_text(encoding="utf-8")
    floor_s, floor_cpu = best(lambda: yaml.load(text, Loader=yaml.CSafeLoader), 1)
    copy = folder / "rehash.yaml"
    runner = CliRunner()

    def rehash() -> Any:
        result = runner.invoke(app.cli, ["rehash", str(copy)])
        assert result.exit_code == 0, result.output
        return result

    rehash_s, rehash_cpu = best(rehash, sizes.reps, before=lambda: shutil.copyfile(stale, copy))
    ratio = stale_s / fresh_s
    mib = fresh.stat().st_size / 2**20
    return [
        {
            "id": f"loadscale_stale[{n}]",
            "label": f"load_cassette, {n:,} entries ({mib:.0f} MiB): all keys stale vs correct",
            "figure": f"{fmt_s(stale_s)} vs {fmt_s(fresh_s)} = {ratio:.2f}x",
            "target": "≤ 1.5x",
            "status": "PASS" if ratio <= 1.5 else "MISS",
            "data": {"stale_s": stale_s, "fresh_s": fresh_s, "stale_cpu_s": stale_cpu,
                     "fresh_cpu_s": fresh_cpu, "entries": n, "file_mib": mib},
        },
        {
            "id": f"loadscale_rehash[{n}]",
            "label": f"replaycodegen rehash of those {n:,} stale keys (read, rewrite)",
            "figure": f"{fmt_s(rehash_s)} ({rehash_s / fresh_s:.2f}x a load with correct keys)",
            "data": {"rehash_s": rehash_s, "rehash_cpu_s": rehash_cpu},
        },
        {
            "id": f"loadscale_floor[{n}]",
            "label": f"yaml.load(CSafeLoader) of the same {n:,}-entry file",
            "figure": f"{fmt_s(floor_s)} (load_cassette is {fresh_s / floor_s:.2f}x it)",
            "data": {"floor_s": floor_s, "floor_cpu_s": floor_cpu},
        },
    ]


# -- 2. the parsed-cassette cache ----------------------------------------------------------


def bench_cache(sizes: Sizes, folder: Path, items: Sequence[Any]) -> list[dict[str, Any]]:
    from replaycodegen.cassette.loading.cache import ParsedCassetteCache
    from replaycodegen.cassette.loading.loader import load_cassette

    n, m = sizes.entries, sizes.small_files
    big = write_cassette(items[:n], folder / f"cache-{n}.yaml")
    small_folder = folder / "small"
    small_folder.mkdir()
    small = [write_cassette(items[i * 5:(i + 1) * 5], small_folder / f"c{i:04d}.yaml")
             for i in range(m)]
    wait_until_older_than([big, *small], 2.1)
    log(f"loadscale: cache hit vs first load, {n:,} entries and {m:,} small files...")
    rows = []
    for label, paths in ((f"{n:,} entries", [big]), (f"{m:,} small cassettes", small)):
        stores: list[ParsedCassetteCache] = []

        def first(paths: list[Path] = paths, stores: list[ParsedCassetteCache] = stores) -> Any:
            store = ParsedCassetteCache(Path(tempfile.mkdtemp(dir=folder)))
            stores.append(store)
            return [load_cassette(p, cache=store) for p in paths]

        first_s, first_cpu = best(first, sizes.reps)
        store = stores[-1]
        hit_s, hit_cpu = best(lambda paths=paths, store=store: [
            load_cassette(p, cache=store) for p in paths], sizes.reps + 2)
        assert store.hits >= len(paths), "the second loads were not cache hits"
        parse_s, _ = best(lambda paths=paths: [load_cassette(p, cache=False) for p in paths],
                          sizes.reps)
        ratio = hit_s / first_s
        limit = 0.1 if len(paths) == 1 else 0.15
        key = f"loadscale_cache[{n}]" if len(paths) == 1 else f"loadscale_cache_small[{m}]"
        rows.append({
            "id": key,
            "label": f"second load (cache hit) vs first load (parse + cache write), {label}",
            "figure": f"{fmt_s(hit_s)} vs {fmt_s(first_s)} = {ratio:.3f}x "
                      f"(parse alone {fmt_s(parse_s)})",
            "target": f"≤ {limit}x",
            "status": "PASS" if ratio <= limit else "MISS",
            "data": {"hit_s": hit_s, "first_s": first_s, "parse_only_s": parse_s,
                     "hit_cpu_s": hit_cpu, "first_cpu_s": first_cpu, "files": len(paths)},
        })
    return rows


# -- 3. memory ----------------------------------------------------------------------------


def child_memory(mode: str, path: str, cache_dir: str | None) -> dict[str, Any]:
    """In a fresh process: load ``path`` one way and report the peak RSS."""
    import resource

    import yaml

    from replaycodegen.cassette.loading.loader import load_cassette, parse_raw

    def peak_mib() -> float:
        """This process's peak RSS. Linux: ``VmHWM``, which starts afresh at ``exec``
        (``ru_maxrss`` keeps the high-water mark of the parent it was forked from)."""
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024

    imported = peak_mib()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "load":
            loaded: Any = load_cassette(path, cache=False)
        elif mode == "cache":
            loaded = load_cassette(path, cache=cache_dir)
        elif mode == "whole":
            loaded = parse_raw(Path(path).read_bytes(), path, whole=True)
        elif mode == "yaml":
            loaded = yaml.load(Path(path).read_text("utf-8"), Loader=yaml.CSafeLoader)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    del loaded
    return {"peak_mib": peak_mib(), "import_mib": imported, "seconds": seconds}


def _child(mode: str, path: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child-memory", mode, str(path)]
    if cache_dir is not None:
        command.append(str(cache_dir))
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {mode} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_memory(path: Path) -> list[dict[str, Any]]:
    text = path.read_bytes()
    n = text.count(b"\n  - id: ")
    del text
    mib = path.stat().st_size / 2**20
    cache_dir = path.parent / "memory-cache"
    log("loadscale: peak RSS of each way of loading it (a fresh process each)...")
    ours = _child("load", path)
    floor = _child("yaml", path)
    whole = _child("whole", path)
    first = _child("cache", path, cache_dir)
    wait_until_older_than([path], 2.1)
    hit = _child("cache", path, cache_dir)

    def times(result: dict[str, Any]) -> str:
        return f"{result['peak_mib'] / mib:.2f}x"

    ratio = ours["peak_mib"] / mib
    return [
        {
            "id": f"loadscale_memory[{n}]",
            "label": f"peak RSS of load_cassette, {n:,} entries ({mib:.0f} MiB file)",
            "figure": f"{ours['peak_mib']:,.0f} MiB = {ratio:.2f}x the file, "
                      f"{ours['import_mib']:,.0f} MiB of it the interpreter and imports "
                      f"(yaml.load: {floor['peak_mib']:,.0f} MiB = {times(floor)}; "
                      f"the whole-document parse: {times(whole)})",
            "target": "≤ 4x the file",
            "status": "PASS" if ratio <= 4 else "MISS",
            "data": {"file_mib": mib, "ours": ours, "yaml_load": floor, "whole": whole},
        },
        {
            "id": f"loadscale_memory_cache[{n}]",
            "label": f"peak RSS with the cache, {n:,} entries: first load / hit",
            "figure": f"{times(first)} / {times(hit)} the file "
                      f"({fmt_s(first['seconds'])} / {fmt_s(hit['seconds'])}; "
                      f"yaml.load {fmt_s(floor['seconds'])})",
            "data": {"first": first, "hit": hit},
        },
    ]


# -- the section -------------------------------------------------------------------------


def run(profile: str, folder: Path) -> list[dict[str, Any]]:
    """Every row of the section (dicts with bench.py's ``Row`` fields but ``section``)."""
    from bench_workload import make_workload

    sizes = SIZES[profile]
    folder.mkdir(parents=True, exist_ok=True)
    log(f"loadscale: generating {sizes.memory_entries:,} workload entries...")
    items = make_workload(max(sizes.memory_entries, sizes.entries, sizes.small_files * 5))
    big = write_cassette(items[:sizes.memory_entries], folder / "memory.yaml")
    del items[max(sizes.entries, sizes.small_files * 5):]  # a small parent for the children
    gc.collect()
    rows = bench_stale(sizes, folder, items)
    rows += bench_cache(sizes, folder, items)
    rows += bench_memory(big)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true")
    size.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    parser.add_argument("--child-memory", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        mode, path, *rest = args.child_memory
        print(json.dumps(child_memory(mode, path, rest[0] if rest else None)))
        return 0
    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    folder = Path(tempfile.mkdtemp(prefix="replaycodegen-bench-load-"))
    try:
        rows = run(profile, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for row in rows:
        status = f"  [{row['status']}]" if row.get("target") else ""
        print(f"{row['label']}: {row['figure']}{status}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
