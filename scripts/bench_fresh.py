"""Freshness benchmarks for scripts/bench.py (section ``fresh``), each next to its anchor:

1. ``replaycodegen status`` of an n-entry cassette (every prompt re-rendered and hashed,
   model and age checked) against ``load_cassette`` of the same file, which status does
   first: the extra cost is the prompt check;
2. the ``CallGate`` that bulk recording puts around the real generator, per call, against
   calling the same trivial generator directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


def _best(reps: int, run: Any) -> float:
    times = []
    for _ in range(max(1, reps)):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def _cassette_with_digests(items: list[Any], path: Path) -> int:
    """The workload's entries with the prompt digests a recorder stores; returns the count."""
    from bench_workload import MODEL, to_cassette

    from replaycodegen.cassette.writing.store import CassetteStore
    from replaycodegen.generation.prompt import PromptBuilder
    from replaycodegen.generation.prompt_check import stored_prompt_sha256

    cassette = to_cassette(items)
    builder = PromptBuilder()
    for entry in cassette.entries:
        assert entry.request is not None
        digest = stored_prompt_sha256(builder, entry.request, entry.error_chain)
        entry.meta.update(prompt_version=builder.version, prompt_sha256=digest,
                          prompt_check_sha256=digest, model=MODEL)
    store = CassetteStore(path)
    store.write(cassette)
    store.close()
    return len(cassette.entries)


class _Trivial:
    async def generate_code(self, request: PythonExecutionRequest,
                            error_chain: Sequence[ErrorChainItem]) -> str:
        return "results = {}"

    def get_generation_metadata(self) -> dict[str, Any]:
        return {"usage": {"total_tokens": 3}}


def _gate_overhead(calls: int) -> tuple[float, float]:
    from replaycodegen.generation.call_gate import CallGate

    request = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="b")
    direct, gate = _Trivial(), CallGate(_Trivial(), jobs=4)

    async def loop(generator: Any) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await generator.generate_code(request, [])
        return time.perf_counter() - started

    return min(asyncio.run(loop(direct)) for _ in range(3)), min(
        asyncio.run(loop(gate)) for _ in range(3))


def bench_fresh(items: list[Any], folder: Path, size: int, reps: int) -> list[dict[str, Any]]:
    """The section's rows, as ``Row`` keyword arguments."""
    from bench_workload import MODEL

    from replaycodegen.cassette.loading.loader import load_cassette
    from replaycodegen.generation.prompt import PromptBuilder
    from replaycodegen.lifecycle.freshness.expiry import parse_max_age
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy, status_file

    path = folder / f"fresh-{size}.yaml"
    count = _cassette_with_digests(items[:size], path)
    policy = FreshnessPolicy(prompt_builder=PromptBuilder(), model=MODEL,
                             max_age=parse_max_age("90d"))
    load_s = _best(reps, lambda: load_cassette(path))
    status_s = _best(reps, lambda: status_file(path, policy))
    stale = len(status_file(path, policy).stale)
    calls = 20_000 if size >= 1_000 else 500
    direct_s, gate_s = _gate_overhead(calls)
    per_entry_us = (status_s - load_s) / count * 1e6
    per_call_us = (gate_s - direct_s) / calls * 1e6
    return [
        {"id": f"status[{count}]", "section": "fresh",
         "label": f"status of {count:,} entries (prompt re-rendered per entry)",
         "figure": f"{status_s * 1000:,.0f} ms; load alone {load_s * 1000:,.0f} ms: "
                   f"{per_entry_us:,.0f} µs per entry for the checks ({stale} stale)",
         "data": {"entries": count, "status_s": status_s, "load_s": load_s,
                  "check_per_entry_us": per_entry_us, "stale": stale}},
        {"id": "call_gate", "section": "fresh",
         "label": "CallGate around a generator (bulk recording), per call",
         "figure": f"{gate_s / calls * 1e6:,.1f} µs vs {direct_s / calls * 1e6:,.1f} µs direct: "
                   f"{per_call_us:+,.1f} µs per call",
         "data": {"calls": calls, "gate_s": gate_s, "direct_s": direct_s,
                  "overhead_per_call_us": per_call_us}},
    ]
