#!/usr/bin/env python
"""replaycodegen benchmark: replay, load, recording, startup and memory, against the floors.

    .venv/bin/python scripts/bench.py             # full run (under 5 minutes on 2 cores)
    .venv/bin/python scripts/bench.py --quick     # smaller sizes (about 20 s)
    .venv/bin/python scripts/bench.py --smoke     # tiny sizes, checks the machinery (< 5 s)
    .venv/bin/python scripts/bench.py --profile record   # cProfile one section, print hot spots

Prints a table and writes it as JSON (``--json PATH``, default ``bench-results.json``);
``--markdown PATH`` also writes the table as Markdown (docs/performance.md shows it).

What is measured (all on the same generated workloads, see scripts/bench_workload.py):

1. replay: ``await MockCodeGenerator(cassette=...).generate_code(request, chain)`` per call,
   timed with ``perf_counter_ns`` inside one running event loop, in a fresh subprocess per
   cassette size (the subprocess loads the file, so it also gives load time and peak RSS);
   requests are drawn at random from the cassette's entries (about 20% have an error chain);
2. HTTP replay: ``AsyncOpenAI(...).chat.completions.create`` replayed by vcrpy from an
   equivalent HTTP cassette (``match_on=["method", "uri", "body"]``: see ``HTTP_MATCH_ON``);
3. load: ``replaycodegen.load_cassette`` vs ``yaml.load(text, Loader=yaml.CSafeLoader)`` of
   the same file (the floor), and vcrpy's load of the equivalent HTTP cassette;
4. recording: n recordings in a row through ``RecordingCodeGenerator(trivial generator,
   path, "new_episodes")`` vs one final ``CassetteStore(path).write(cassette)``;
5. startup (scripts/bench_startup.py): ``import replaycodegen``, the cold first replay and
   ``replaycodegen --help`` in fresh processes next to their anchors, what a replay
   imports; the pytest plugin's per-test overhead next to pytest-recording's, serially and
   with -n 2 (scripts/bench_pytest.py);
6. memory: ru_maxrss of the subprocess that loads and replays the largest cassette.

Benchmarks print figures; nothing here asserts on time (tests/test_bench_smoke.py only checks
that the machinery runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as _dt
import gc
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

HTTP_MATCH_ON = ("method", "uri", "body")
"""vcrpy matchers for the HTTP replay. The default (method, uri) cannot tell two chat
completions apart (every call is POST /v1/chat/completions), so it would replay responses
in recording order whatever the prompt; matching on the body is what makes the HTTP
cassette equivalent to a key over (request, error chain)."""

OPENAI_BASE_URL = "https://api.openai.com/v1"
WARMUP_CALLS = 200
US = 1_000.0  # ns per µs

# ---------------------------------------------------------------------------------------
# Run profiles
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    replay_sizes: tuple[int, ...]
    replay_calls: int
    load_reps: dict[int, int]
    """Interleaved load repetitions per size (best of); the floor is skipped at 0 reps."""
    load_target_size: int
    http_sizes: tuple[int, ...]
    http_calls: dict[int, int]
    vcr_load_reps: int
    record_sizes: tuple[int, int]
    record_reps: int
    write_reps: int
    startup_reps: int
    pytest_tests: int
    pytest_reps: int


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        replay_sizes=(10, 1_000, 10_000, 100_000),
        replay_calls=20_000,
        load_reps={10: 20, 1_000: 7, 10_000: 2, 100_000: 0},
        load_target_size=10_000,
        http_sizes=(10, 1_000, 10_000),
        http_calls={10: 300, 1_000: 60, 10_000: 8},
        vcr_load_reps=3,
        record_sizes=(1_000, 4_000),
        record_reps=3,
        write_reps=3,
        startup_reps=7,
        pytest_tests=1_000,
        pytest_reps=5,
    ),
    "quick": Profile(
        name="quick",
        replay_sizes=(10, 1_000, 2_000),
        replay_calls=5_000,
        load_reps={10: 10, 1_000: 3, 2_000: 2},
        load_target_size=2_000,
        http_sizes=(10, 1_000),
        http_calls={10: 100, 1_000: 10},
        vcr_load_reps=1,
        record_sizes=(250, 1_000),
        record_reps=2,
        write_reps=2,
        startup_reps=3,
        pytest_tests=200,
        pytest_reps=1,
    ),
    "smoke": Profile(
        name="smoke",
        replay_sizes=(10, 100),
        replay_calls=300,
        load_reps={10: 2, 100: 2},
        load_target_size=100,
        http_sizes=(10, 100),
        http_calls={10: 5, 100: 5},
        vcr_load_reps=1,
        record_sizes=(10, 40),
        record_reps=1,
        write_reps=1,
        startup_reps=1,
        pytest_tests=10,
        pytest_reps=1,
    ),
}

# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table; ``data`` holds every number behind ``figure``."""

    id: str
    section: str
    label: str
    figure: str
    target: str = ""
    status: str = "info"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    profile: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(
            f"  {row.label}: {row.figure}" + (f"  [{row.status}]" if row.target else ""), flush=True
        )
        return row


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt_us(ns: float) -> str:
    return f"{ns / US:,.1f} µs" if ns < 1e7 else f"{ns / 1e6:,.1f} ms"


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:,.1f} ms"
    return f"{seconds:,.2f} s"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[index])


def latency_stats(ns: Sequence[int]) -> dict[str, float]:
    values = sorted(ns)
    if not values:
        return {"calls": 0}
    return {
        "calls": len(values),
        "median_us": statistics.median(values) / US,
        "p90_us": percentile(values, 90) / US,
        "p99_us": percentile(values, 99) / US,
        "mean_us": statistics.fmean(values) / US,
        "min_us": values[0] / US,
        "max_us": values[-1] / US,
    }


def status(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------------------
# Workload files
# ---------------------------------------------------------------------------------------


def write_cassettes(items: list[Any], sizes: Sequence[int], folder: Path) -> dict[int, Path]:
    """One cassette file per size (the first ``size`` items), as ``dump_cassette`` writes it.

    Each entry is dumped once (``dump_entry``) and every file is assembled from the header
    and those entries the way ``dump_cassette`` does; the smallest file is checked against
    ``dump_cassette`` itself.
    """
    from bench_workload import describe, to_cassette

    from replaycodegen.cassette.model import Cassette
    from replaycodegen.cassette.writing.serialize import dump_cassette, dump_entry, header_to_data
    from replaycodegen.cassette.yamlio import dump

    started = time.perf_counter()
    parts = [dump_entry(entry) for entry in to_cassette(items[: max(sizes)]).entries]
    paths: dict[int, Path] = {}
    for size in sorted(sizes):
        header = dump(header_to_data(Cassette(description=describe(size))))
        text = header + "entries:\n" + "".join(parts[:size])
        if size == min(sizes) and text != dump_cassette(to_cassette(items[:size])):
            raise AssertionError("assembled cassette text differs from dump_cassette()")
        paths[size] = folder / f"cassette-{size}.yaml"
        paths[size].write_text(text, encoding="utf-8")
    log(
        f"  wrote {len(paths)} cassette files ({max(sizes):,} entries dumped) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return paths


# ---------------------------------------------------------------------------------------
# 1 + 3 + 6: replay, load and memory, in a fresh subprocess per cassette size
# ---------------------------------------------------------------------------------------


def current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):  # not Linux
        return float("nan")


def peak_rss_mib() -> float:
    import resource  # POSIX only, like ru_maxrss itself

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def child_replay(
    path: str, calls: int, load_reps: int, floor: bool, seed: int, trace: bool
) -> dict[str, Any]:
    """Load the cassette (best of ``load_reps``, interleaved with the floor), then replay."""
    rss_start = current_rss_mib()
    import yaml

    from replaycodegen import ExecutionError, MockCodeGenerator, PythonExecutionRequest
    from replaycodegen.cassette.loading.loader import load_cassette

    rss_imported = current_rss_mib()
    if trace:
        import tracemalloc

        tracemalloc.start()
    out: dict[str, Any] = {"file_mib": os.path.getsize(path) / 2**20}
    loads: list[float] = []
    floors: list[float] = []
    cassette = None
    for rep in range(max(1, load_reps)):
        if floor and load_reps > 0:
            gc.collect()
            started = time.perf_counter()
            data = yaml.load(Path(path).read_text("utf-8"), Loader=yaml.CSafeLoader)
            floors.append(time.perf_counter() - started)
            del data
        cassette = None
        gc.collect()
        started = time.perf_counter()
        cassette = load_cassette(path, cache=False)  # the parse, not the cache
        loads.append(time.perf_counter() - started)
        if rep == 0:
            out["rss_after_load_mib"] = current_rss_mib()
            if trace:
                import tracemalloc

                gc.collect()
                live, peak = tracemalloc.get_traced_memory()
                out["tracemalloc_live_after_load_mib"] = live / 2**20
                out["tracemalloc_peak_load_mib"] = peak / 2**20
    assert cassette is not None
    if floor and load_reps > 0:
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        data = yaml.load(Path(path).read_text("utf-8"), Loader=yaml.CSafeLoader)
        out["floor_nogc_s"] = time.perf_counter() - started
        gc.enable()
        del data
    out.update(
        load_s=min(loads),
        loads_s=loads,
        floor_s=min(floors) if floors else None,
        floors_s=floors,
        entries=len(cassette),
    )

    # Requests drawn from the cassette, built as a test would build them.
    generator = MockCodeGenerator(cassette=cassette)
    entries = [entry for entry in cassette.entries if entry.request is not None]
    rng = random.Random(seed)
    picks = [entries[rng.randrange(len(entries))] for _ in range(calls + WARMUP_CALLS)]
    prepared = []
    for number, entry in enumerate(picks):
        assert entry.request is not None
        request = PythonExecutionRequest(
            **entry.request, execution_folder_name=f"bench-run-{number}"
        )
        chain = [
            ExecutionError(
                error_type=e.type, error_message=e.message, stage=e.stage, attempt_number=i + 1
            )
            for i, e in enumerate(entry.error_chain)
        ]
        prepared.append((request, chain, entry.code))

    async def replay() -> tuple[list[int], int]:
        clock = time.perf_counter_ns
        timings = [0] * len(prepared)
        wrong = 0
        for i, (request, chain, expected) in enumerate(prepared):
            started = clock()
            code = await generator.generate_code(request, chain)
            timings[i] = clock() - started
            if code != expected:
                wrong += 1
        return timings, wrong

    gc.collect()
    timings, wrong = asyncio.run(replay())
    timings = timings[WARMUP_CALLS:]
    measured = prepared[WARMUP_CALLS:]
    with_chain = [t for t, (_, chain, _) in zip(timings, measured, strict=True) if chain]
    without = [t for t, (_, chain, _) in zip(timings, measured, strict=True) if not chain]
    out.update(
        all=latency_stats(timings),
        with_chain=latency_stats(with_chain),
        without_chain=latency_stats(without),
        wrong_code=wrong,
        rss_start_mib=rss_start,
        rss_imported_mib=rss_imported,
        rss_end_mib=current_rss_mib(),
        peak_rss_mib=peak_rss_mib(),
        modules={name: name in sys.modules for name in ("openai", "vcr", "httpx2", "httpx")},
    )
    if trace:
        import tracemalloc

        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def run_child(args: list[str], timeout: float = 900) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def bench_replay(
    profile: Profile, paths: dict[int, Path], report: Report, trace: bool
) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    largest = max(profile.replay_sizes)
    for size in profile.replay_sizes:
        reps = profile.load_reps.get(size, 1)
        log(f"replay + load, {size:,} entries (subprocess)...")
        args = [
            "--child-replay",
            str(paths[size]),
            "--calls",
            str(profile.replay_calls),
            "--load-reps",
            str(reps),
        ]
        if reps == 0:
            args.append("--no-floor")
        if trace and size == largest:
            args.append("--tracemalloc")
        results[size] = res = run_child(args)
        stats = res["all"]
        ok = stats["median_us"] < 20 and res["wrong_code"] == 0
        report.add(
            Row(
                id=f"replay[{size}]",
                section="replay",
                label=f"replay, {size:,} entries: median / p99 per generate_code",
                figure=f"{stats['median_us']:.1f} µs / {stats['p99_us']:.1f} µs",
                target="median < 20 µs",
                status=status(ok),
                data={
                    "entries": size,
                    **stats,
                    "with_chain": res["with_chain"],
                    "without_chain": res["without_chain"],
                    "wrong_code": res["wrong_code"],
                },
            )
        )
    sizes = profile.replay_sizes
    for subset, label in (("without_chain", "without"), ("with_chain", "with")):
        medians = [results[size][subset]["median_us"] for size in sizes]
        report.add(
            Row(
                id=f"replay_{subset}",
                section="replay",
                label=f"replay, calls {label} an error chain: median at "
                + " / ".join(f"{size:,}" for size in sizes)
                + " entries",
                figure=" / ".join(f"{m:.1f}" for m in medians) + " µs",
                data={
                    "entries": list(sizes),
                    "median_us": medians,
                    "calls": [results[size][subset]["calls"] for size in sizes],
                    "p99_us": [results[size][subset]["p99_us"] for size in sizes],
                },
            )
        )
    for size in profile.replay_sizes:
        res = results[size]
        if res.get("floor_s") is None:
            report.add(
                Row(
                    id=f"load[{size}]",
                    section="load",
                    label=f"load_cassette, {size:,} entries ({res['file_mib']:.0f} MiB)",
                    figure=fmt_s(res["load_s"]) + " (floor not measured at this size)",
                    data={"entries": size, "load_s": res["load_s"], "file_mib": res["file_mib"]},
                )
            )
            continue
        ratio = res["load_s"] / res["floor_s"]
        is_target = size == profile.load_target_size
        report.add(
            Row(
                id=f"load[{size}]",
                section="load",
                label=f"load_cassette vs yaml.load(CSafeLoader), {size:,} entries "
                f"({res['file_mib']:.1f} MiB)",
                figure=f"{fmt_s(res['load_s'])} vs {fmt_s(res['floor_s'])} = {ratio:.2f}x",
                target="≤ 1.2x the floor" if is_target else "",
                status=status(ratio <= 1.2) if is_target else "info",
                data={
                    "entries": size,
                    "load_s": res["load_s"],
                    "floor_s": res["floor_s"],
                    "ratio": ratio,
                    "loads_s": res["loads_s"],
                    "floors_s": res["floors_s"],
                    "floor_nogc_s": res.get("floor_nogc_s"),
                    "file_mib": res["file_mib"],
                },
            )
        )
        if is_target and res.get("floor_nogc_s"):
            report.add(
                Row(
                    id=f"floor_nogc[{size}]",
                    section="load",
                    label=f"yaml.load(CSafeLoader) with the cyclic GC paused, {size:,} entries",
                    figure=f"{fmt_s(res['floor_nogc_s'])} "
                    f"({res['floor_nogc_s'] / res['floor_s']:.2f}x the floor)",
                    data={
                        "entries": size,
                        "floor_nogc_s": res["floor_nogc_s"],
                        "floor_s": res["floor_s"],
                    },
                )
            )
    res = results[largest]
    report.add(
        Row(
            id=f"memory[{largest}]",
            section="memory",
            label=f"peak RSS, load + replay of {largest:,} entries "
            f"({res['file_mib']:.0f} MiB file)",
            figure=f"{res['peak_rss_mib']:,.0f} MiB peak, {res['rss_end_mib']:,.0f} MiB after "
            f"(import: {res['rss_imported_mib']:.0f} MiB)",
            data={"entries": largest, **{k: v for k, v in res.items() if "mib" in k}},
        )
    )
    return results


# ---------------------------------------------------------------------------------------
# 2 + 3: the HTTP way (OpenAI SDK + vcrpy)
# ---------------------------------------------------------------------------------------

SDK_REQUEST_HEADERS = {
    # What the OpenAI SDK sends (captured through vcrpy); authorization filtered out, as
    # vcrpy users do (filter_headers=["authorization"]).
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
    "content-type": "application/json",
    "host": "api.openai.com",
    "user-agent": "AsyncOpenAI/Python 3.57.0",
    "x-stainless-arch": "x64",
    "x-stainless-async": "async:asyncio",
    "x-stainless-lang": "python",
    "x-stainless-os": "Linux",
    "x-stainless-package-version": "3.57.0",
    "x-stainless-read-timeout": "600",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime": "CPython",
    "x-stainless-runtime-version": "3.11.7",
}


def _response_headers(index: int, length: int) -> dict[str, list[str]]:
    return {
        "content-type": ["application/json"],
        "content-length": [str(length)],
        "date": ["Tue, 24 Nov 2026 10:00:00 GMT"],
        "openai-organization": ["bench-org"],
        "openai-processing-ms": [str(400 + index % 3000)],
        "openai-version": ["2020-10-01"],
        "x-ratelimit-limit-requests": ["10000"],
        "x-ratelimit-remaining-requests": ["9999"],
        "x-ratelimit-limit-tokens": ["10000000"],
        "x-ratelimit-remaining-tokens": ["9998000"],
        "x-request-id": [f"req_{index:024x}"],
        "server": ["cloudflare"],
    }


def http_body(item: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chat messages and request body OpenAICodeGenerator would send for ``item``."""
    from bench_workload import MODEL, to_call

    from replaycodegen.generation.prompt import PromptBuilder

    request, chain = to_call(item, 0)
    messages = PromptBuilder().build(request, chain)
    return messages, {"messages": messages, "model": MODEL, "max_tokens": 4096, "temperature": 0.0}


def write_http_cassette(items: list[Any], path: Path) -> None:
    """The equivalent vcrpy cassette, serialized by vcrpy's own serializer."""
    from bench_workload import MODEL
    from vcr.request import Request
    from vcr.serialize import serialize
    from vcr.serializers import yamlserializer

    requests, responses = [], []
    for index, item in enumerate(items):
        _, body = http_body(item)
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        headers = dict(SDK_REQUEST_HEADERS, **{"content-length": str(len(text.encode()))})
        requests.append(Request("POST", f"{OPENAI_BASE_URL}/chat/completions", text, headers))
        completion = {
            "id": f"chatcmpl-bench{index}",
            "object": "chat.completion",
            "created": 1795993200 + index,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": f"```python\n{item.code}```",
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": item.meta["usage"],
            "service_tier": "default",
            "system_fingerprint": "fp_bench",
        }
        payload = json.dumps(completion)
        responses.append(
            {
                "status": {"code": 200, "message": "OK"},
                "headers": _response_headers(index, len(payload)),
                "body": {"string": payload},
            }
        )
    path.write_text(
        serialize({"requests": requests, "responses": responses}, yamlserializer), encoding="utf-8"
    )


def vcr_load(path: Path) -> float:
    import vcr.cassette

    started = time.perf_counter()
    cassette = vcr.cassette.Cassette.load(
        path=str(path), record_mode="none", match_on=HTTP_MATCH_ON
    )
    elapsed = time.perf_counter() - started
    assert len(cassette) > 0
    return elapsed


def http_replay(path: Path, sample: list[Any]) -> dict[str, Any]:
    """Replay ``sample`` through the OpenAI SDK under vcrpy (one untimed first call)."""
    import vcr
    from bench_workload import MODEL
    from openai import AsyncOpenAI

    calls: list[tuple[Any, str]] = [(http_body(item)[0], item.code) for item in sample]
    # allow_playback_repeats lets the 10-interaction baseline serve many calls; it does not
    # change the scan (vcrpy stops at the first matching interaction either way).
    recorder = vcr.VCR(record_mode="none", match_on=list(HTTP_MATCH_ON))
    manager = recorder.use_cassette(str(path), allow_playback_repeats=True)
    gc.collect()
    started = time.perf_counter()
    cassette = manager.__enter__()  # loads the cassette and installs the patches
    enter_s = time.perf_counter() - started
    try:
        client = AsyncOpenAI(
            api_key="sk-fake-bench-key-not-real", base_url=OPENAI_BASE_URL, max_retries=0
        )

        async def replay() -> tuple[list[int], int]:
            clock = time.perf_counter_ns
            timings: list[int] = []
            wrong = 0
            # One untimed call: the SDK builds its client and transport lazily.
            warm_messages, _ = calls[0]
            await client.chat.completions.create(
                model=MODEL, messages=warm_messages, max_tokens=4096, temperature=0.0
            )
            for messages, code in calls[1:]:
                t0 = clock()
                completion = await client.chat.completions.create(
                    model=MODEL, messages=messages, max_tokens=4096, temperature=0.0
                )
                timings.append(clock() - t0)
                content = completion.choices[0].message.content or ""
                if code not in content:
                    wrong += 1
            await client.close()
            return timings, wrong

        timings, wrong = asyncio.run(replay())
        played = cassette.play_count
    finally:
        manager.__exit__(None, None, None)
    return {"enter_s": enter_s, "wrong_code": wrong, "played": played, **latency_stats(timings)}


def bench_http(
    profile: Profile,
    items: list[Any],
    folder: Path,
    report: Report,
    replay: dict[int, dict[str, Any]],
) -> None:
    rng = random.Random(11)
    for size in profile.http_sizes:
        path = folder / f"http-{size}.yaml"
        started = time.perf_counter()
        write_http_cassette(items[:size], path)
        log(
            f"HTTP replay, {size:,} interactions (cassette written in "
            f"{time.perf_counter() - started:.1f} s)..."
        )
        sample = rng.choices(items[:size], k=profile.http_calls[size] + 1)
        res = http_replay(path, sample)
        ours = replay.get(size, {}).get("all", {}).get("median_us")
        ratio = res["median_us"] / ours if ours else None
        figure = f"{fmt_us(res['median_us'] * US)} / {fmt_us(res['p99_us'] * US)}"
        if ratio is not None:
            figure += f" = {ratio:,.0f}x ours"
        report.add(
            Row(
                id=f"http_replay[{size}]",
                section="http_replay",
                label=f"vcrpy + OpenAI SDK replay, {size:,} interactions: median / p99 per call "
                f"({res['calls']} calls)",
                figure=figure,
                data={
                    "interactions": size,
                    "match_on": list(HTTP_MATCH_ON),
                    **res,
                    "ours_median_us": ours,
                    "ratio_vs_ours": ratio,
                    "file_mib": path.stat().st_size / 2**20,
                },
            )
        )
        # vcrpy's load of the same cassette (what use_cassette does on entry).
        if size == min(profile.http_sizes) and size < 100:
            continue
        # Above 1,000 interactions one load is enough: the use_cassette entry (the load plus
        # installing the patches, whose imports the smaller runs have already paid) is it.
        times = (
            [vcr_load(path) for _ in range(profile.vcr_load_reps)]
            if size <= 1_000
            else [res["enter_s"]]
        )
        ours_load = replay.get(size, {}).get("load_s")
        vratio = min(times) / ours_load if ours_load else None
        figure = f"{fmt_s(min(times))}"
        if ours_load:
            figure += f" vs load_cassette {fmt_s(ours_load)} (vcrpy {vratio:.2f}x ours)"
        report.add(
            Row(
                id=f"vcr_load[{size}]",
                section="load",
                label=f"vcrpy cassette load, {size:,} interactions "
                f"({path.stat().st_size / 2**20:.1f} MiB)",
                figure=figure,
                data={
                    "interactions": size,
                    "vcr_load_s": min(times),
                    "vcr_loads_s": times,
                    "ours_load_s": ours_load,
                    "vcr_vs_ours": vratio,
                },
            )
        )


# ---------------------------------------------------------------------------------------
# 4: recording
# ---------------------------------------------------------------------------------------


class TrivialGenerator:
    """An in-process 'real' generator: answers each request with its workload code."""

    def __init__(self, codes: dict[tuple[str, int], str]) -> None:
        self.codes = codes

    async def generate_code(self, request: Any, error_chain: Sequence[Any]) -> str:
        return self.codes[(request.user_query, len(error_chain))]

    def get_generation_metadata(self) -> dict[str, Any]:
        return {
            "generator": "bench",
            "provider": "local",
            "model": "bench-trivial",
            "usage": {"prompt_tokens": 500, "completion_tokens": 120, "total_tokens": 620},
        }


def record_run(items: list[Any], path: Path) -> tuple[float, Any, list[int]]:
    """Record every item in a row into a new cassette.

    Returns the seconds from the recorder's construction to its ``close()``, the cassette,
    and the nanoseconds of each ``generate_code`` call (to see whether late ones cost more).
    """
    from bench_workload import to_call

    from replaycodegen.generation.recording import RecordingCodeGenerator

    calls = [to_call(item, i) for i, item in enumerate(items)]
    generator = TrivialGenerator(
        {(r.user_query, len(c)): item.code for (r, c), item in zip(calls, items, strict=True)}
    )
    per_call: list[int] = []

    async def run() -> Any:
        clock = time.perf_counter_ns
        recorder = RecordingCodeGenerator(generator, path, "new_episodes")
        for request, chain in calls:
            t0 = clock()
            await recorder.generate_code(request, chain)
            per_call.append(clock() - t0)
        recorder.close()
        return recorder

    if path.exists():
        path.unlink()
    gc.collect()
    started = time.perf_counter()
    recorder = asyncio.run(run())
    elapsed = time.perf_counter() - started
    if len(recorder.recorded) != len(items):
        raise AssertionError(f"recorded {len(recorder.recorded)} of {len(items)}")
    return elapsed, recorder.cassette, per_call


def final_write(cassette: Any, path: Path, reps: int) -> tuple[float, float]:
    """Best of ``reps``: ``CassetteStore(path).write`` and ``atomic_write(dump_cassette)``."""
    from replaycodegen.cassette.writing.serialize import dump_cassette
    from replaycodegen.cassette.writing.store import CassetteStore, atomic_write

    store_times, atomic_times = [], []
    for rep in range(reps):
        target = path.with_name(f"{path.stem}-write{rep}.yaml")
        gc.collect()
        started = time.perf_counter()
        CassetteStore(target).write(cassette)
        store_times.append(time.perf_counter() - started)
        gc.collect()
        started = time.perf_counter()
        atomic_write(path.with_name(f"{path.stem}-atomic{rep}.yaml"), dump_cassette(cassette))
        atomic_times.append(time.perf_counter() - started)
    return min(store_times), min(atomic_times)


def bench_record(profile: Profile, items: list[Any], folder: Path, report: Report) -> None:
    from replaycodegen.cassette.loading.loader import load_cassette

    small, large = profile.record_sizes
    results: dict[int, dict[str, Any]] = {}
    quarters: list[float] = []
    for size in (small, large):
        log(f"recording {size:,} in a row (best of {profile.record_reps})...")
        path = folder / f"recorded-{size}.yaml"
        runs = [record_run(items[:size], path) for _ in range(profile.record_reps)]
        elapsed, cassette, per_call = min(runs, key=lambda run: run[0])
        if len(load_cassette(path, cache=False)) != size:
            raise AssertionError("the recorded cassette does not load back whole")
        write_s, atomic_s = final_write(cassette, path, profile.write_reps)
        ratio = elapsed / write_s
        quarter = max(1, size // 4)
        quarters = [
            statistics.median(per_call[i * quarter : (i + 1) * quarter]) / 1e6 for i in range(4)
        ]
        results[size] = {
            "record_s": elapsed,
            "record_runs_s": [run[0] for run in runs],
            "write_s": write_s,
            "atomic_dump_s": atomic_s,
            "ratio": ratio,
            "per_recording_ms": elapsed / size * 1000,
            "median_ms_by_quarter": quarters,
        }
        is_target = size == small
        report.add(
            Row(
                id=f"record[{size}]",
                section="record",
                label=f"{size:,} recordings in a row vs one final CassetteStore.write",
                figure=f"{fmt_s(elapsed)} ({elapsed / size * 1000:.2f} ms each) vs "
                f"{fmt_s(write_s)} = {ratio:.2f}x",
                target="≤ 5x one final write" if is_target else "",
                status=status(ratio <= 5) if is_target else "info",
                data={"recordings": size, **results[size]},
            )
        )
    growth = results[large]["record_s"] / results[small]["record_s"]
    limit = 1.1 * large / small
    report.add(
        Row(
            id="record_linear",
            section="record",
            label=f"recording {large:,} vs {small:,} (linear = {large / small:.1f}x)",
            figure=f"{growth:.2f}x; median per recording by quarter of the {large:,}: "
            + " / ".join(f"{q:.2f}" for q in quarters)
            + " ms",
            target=f"≤ {limit:.1f}x",
            status=status(growth <= limit),
            data={
                "small": small,
                "large": large,
                "growth": growth,
                "limit": limit,
                "median_ms_by_quarter": quarters,
            },
        )
    )


# ---------------------------------------------------------------------------------------
# 5: helpers for child processes (startup: scripts/bench_startup.py; the pytest plugin:
#    scripts/bench_pytest.py)
# ---------------------------------------------------------------------------------------

def timed_process(
    command: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> tuple[float, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        list(command), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
    return time.perf_counter() - started, proc


def child_env() -> dict[str, str]:
    """The environment for child processes: no inherited pytest or coverage settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "COV_CORE")) and k != "PYTHONPATH"
    }


# ---------------------------------------------------------------------------------------
# Machine, output, profiling
# ---------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    import yaml

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("replaycodegen", "pyyaml", "vcrpy", "openai", "httpx2", "pydantic", "pytest"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    libyaml = None
    with contextlib.suppress(ImportError, AttributeError):
        from yaml import _yaml

        libyaml = _yaml.get_version_string()
    versions["libyaml"] = libyaml if getattr(yaml, "__with_libyaml__", False) else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf")
        else None,
        "load_average_at_start": load,
        "versions": versions,
    }


def render_table(report: Report, markdown: bool) -> str:
    headers = ("benchmark", "figure", "target", "status")
    rows = [(r.label, r.figure, r.target or "-", r.status) for r in report.rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|---|---|---|---|"]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
        return "\n".join(lines)
    widths = (
        [min(78, max(len(h), *(len(row[i]) for row in rows))) for i, h in enumerate(headers)]
        if rows
        else [len(h) for h in headers]
    )
    out = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return "\n".join(out)


def profile_section(section: str, folder: Path) -> None:
    """Run one section's core under cProfile and print the hot spots."""
    from bench_workload import make_workload, to_call

    from replaycodegen import MockCodeGenerator
    from replaycodegen.cassette.loading.loader import load_cassette

    items = make_workload(4_000 if section == "record" else 2_000)
    paths = write_cassettes(items, [2_000], folder) if section != "record" else {}
    profiler = cProfile.Profile()
    if section == "load":
        profiler.runcall(load_cassette, paths[2_000], cache=False)
    elif section == "replay":
        generator = MockCodeGenerator(cassette=paths[2_000])
        calls = [to_call(items[random.Random(i).randrange(2_000)], i) for i in range(20_000)]

        async def replay() -> None:
            for request, chain in calls:
                await generator.generate_code(request, chain)

        profiler.runcall(asyncio.run, replay())
    elif section == "record":
        profiler.runcall(record_run, items, folder / "profiled.yaml")
    else:
        raise SystemExit(f"--profile: unknown section {section!r} (load, replay, record)")
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(order).print_stats(25)
        print(f"--- {section}: top 25 by {order} ---")
        print(stream.getvalue())


@contextlib.contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="replaycodegen-bench-"))
    try:
        yield folder
    finally:
        if keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(
    profile: Profile,
    sections: set[str],
    json_path: Path,
    markdown_path: Path | None,
    keep: bool,
    trace: bool,
) -> Report:
    from bench_workload import make_workload

    report = Report(profile.name)
    started = time.perf_counter()
    info = machine_info()
    print(
        f"replaycodegen bench ({profile.name}) on {info['cpu_model']}, {info['cores']} "
        f"cores; python {info['versions']['python']}",
        flush=True,
    )
    with work_dir(keep) as folder:
        need = max([*profile.replay_sizes, *profile.http_sizes, *profile.record_sizes])
        log(f"generating {need:,} workload entries...")
        items = make_workload(need)
        replay: dict[int, dict[str, Any]] = {}
        if "replay" in sections:
            paths = write_cassettes(items, profile.replay_sizes, folder)
            keep_items = max([*profile.http_sizes, *profile.record_sizes])
            del items[keep_items:]  # a smaller parent heap while children measure
            gc.collect()
            replay = bench_replay(profile, paths, report, trace)
            for path in paths.values():
                path.unlink()
        if "http" in sections:
            bench_http(profile, items, folder, report, replay)
        if "record" in sections:
            bench_record(profile, items, folder, report)
        if "startup" in sections:
            from bench_startup import bench_startup  # cold start: scripts/bench_startup.py

            bench_startup(profile.startup_reps,
                          lambda **row: report.add(Row(section="startup", **row)))
        if "pytest" in sections:
            from bench_pytest import bench_pytest  # next to pytest-recording

            bench_pytest(profile.pytest_tests, profile.pytest_reps, folder / "pytest-suites",
                         lambda **row: report.add(Row(section="pytest", **row)), log)
        if "lifecycle" in sections:
            from bench_lifecycle import bench_lifecycle

            bench_lifecycle(profile.name, folder / "lifecycle",
                            lambda **row: report.add(Row(section="lifecycle", **row)),
                            child_env())
        if "rewrite" in sections:
            import bench_rewrite

            bench_rewrite.run_section(profile.name, folder / "rewrite", report, Row)
        if "fresh" in sections:
            from bench_fresh import bench_fresh

            for row in bench_fresh(items, folder, max(profile.record_sizes), profile.record_reps):
                report.add(Row(**row))
        if "sandbox" in sections:
            from bench_sandbox import bench_sandbox

            bench_sandbox(profile.name, report, Row)
        if "loadscale" in sections:  # scripts/bench_load.py
            import bench_load

            for row in bench_load.run(profile.name, folder / "loadscale"):
                report.add(Row(section="loadscale", **row))
    elapsed = time.perf_counter() - started
    print()
    print(render_table(report, markdown=False))
    print(f"\n{profile.name} run: {elapsed:.0f} s")
    payload = {
        "schema": 1,
        "profile": profile.name,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": elapsed,
        "machine": info,
        "http_match_on": list(HTTP_MATCH_ON),
        "sizes": {k: v for k, v in asdict(profile).items() if k != "name"},
        "rows": [asdict(row) for row in report.rows],
    }
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {json_path}")
    if markdown_path is not None:
        markdown_path.write_text(render_table(report, markdown=True) + "\n", encoding="utf-8")
        print(f"wrote {markdown_path}")
    return report


SECTIONS = ("replay", "http", "record", "startup", "pytest", "lifecycle", "rewrite", "fresh",
            "sandbox", "loadscale")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (about 20 s)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: checks the machinery")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        help="where to write the results (default: bench-results.json)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report the tracemalloc peak of the largest replay (slow)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir of workloads")
    parser.add_argument(
        "--profile",
        metavar="SECTION",
        help="cProfile one section (load, replay, record) and print hot spots",
    )
    # Internal: the replay/load/memory subprocess.
    parser.add_argument("--child-replay", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=1_000, help=argparse.SUPPRESS)
    parser.add_argument("--load-reps", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--no-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_replay:
        result = child_replay(
            args.child_replay,
            args.calls,
            args.load_reps,
            not args.no_floor,
            seed=5,
            trace=args.tracemalloc,
        )
        print(json.dumps(result))
        return 0
    if args.profile:
        with work_dir(args.keep) as folder:
            profile_section(args.profile, folder)
        return 0
    profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    sections = set(SECTIONS)
    if args.only:
        sections = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = sections - set(SECTIONS)
        if unknown:
            parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    run(profile, sections, args.json, args.markdown, args.keep, args.tracemalloc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
