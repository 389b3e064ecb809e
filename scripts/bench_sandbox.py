#!/usr/bin/env python
"""What the sandbox costs: the same trivial code through ``PythonExecutorService.ainvoke``
under ``isolation: process`` and ``isolation: sandbox``, interleaved, median per execution.

    .venv/bin/python scripts/bench_sandbox.py [--executions N]

``scripts/bench.py`` runs it as its ``sandbox`` section. The process runner is the anchor,
measured in the same run; the target is at most 20 ms added per execution.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TARGET_ADDED_MS = 20.0
EXECUTIONS = {"full": 40, "quick": 15, "smoke": 3}
CODE = "values = [1, 2, 3]\nresults = {'total': sum(values)}\n"


class _Fixed:
    """A generator that always answers the same code."""

    async def generate_code(self, request: Any, error_chain: Any) -> str:
        return CODE

    def get_generation_metadata(self) -> dict[str, Any]:
        return {"generator": "bench"}


async def _measure(executions: int, root: Path) -> dict[str, list[float]]:
    from replaycodegen.executor import PythonExecutorService
    from replaycodegen.models import PythonExecutionRequest

    request = PythonExecutionRequest(
        user_query="sum", task_objective="sum", execution_folder_name="bench"
    )
    service = PythonExecutorService(_Fixed())
    times: dict[str, list[float]] = {"process": [], "sandbox": []}
    for number in range(executions + 1):  # the first round warms up (probe, imports)
        for isolation in times:
            config = {
                "configurable": {
                    "execution": {
                        "isolation": isolation,
                        "execution_root": str(root / isolation),
                        "keep": 5,
                    },
                    "approval": {"mode": "disabled"},
                }
            }
            started = time.perf_counter()
            result = await service.ainvoke(request, config)
            elapsed = time.perf_counter() - started
            assert result.execution_result.results == {"total": 6}
            if number:
                times[isolation].append(elapsed)
    return times


def measure(executions: int) -> dict[str, Any]:
    """Median, min and max per execution (seconds) under each isolation."""
    from replaycodegen.executor.sandbox import sandbox_status

    status = sandbox_status()
    if not status.available:
        return {"available": False, "reason": status.reason}
    with tempfile.TemporaryDirectory(prefix="replaycodegen-bench-sandbox-") as folder:
        times = asyncio.run(_measure(executions, Path(folder)))
    out: dict[str, Any] = {"available": True, "executions": executions}
    for isolation, values in times.items():
        out[isolation] = {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
        }
    out["added_ms"] = (out["sandbox"]["median_s"] - out["process"]["median_s"]) * 1000
    return out


def bench_sandbox(profile: str, report: Any, row: Callable[..., Any]) -> None:
    """The ``sandbox`` section of scripts/bench.py: one row, process vs sandbox."""
    print("sandbox: process vs sandbox per execution...", file=sys.stderr, flush=True)
    figures = measure(EXECUTIONS.get(profile, EXECUTIONS["quick"]))
    if not figures["available"]:
        report.add(
            row(
                id="sandbox_overhead",
                section="sandbox",
                label="sandbox per execution",
                figure=f"n/a ({figures['reason']})",
                status="n/a",
                data=figures,
            )
        )
        return
    process, sandbox = figures["process"]["median_s"], figures["sandbox"]["median_s"]
    added = figures["added_ms"]
    report.add(
        row(
            id="sandbox_overhead",
            section="sandbox",
            label=f"sandbox per execution (median of {figures['executions']})",
            figure=f"process {process * 1000:.1f} ms, sandbox {sandbox * 1000:.1f} ms "
            f"({added:+.1f} ms)",
            target=f"<= {TARGET_ADDED_MS:g} ms added",
            status="PASS" if added <= TARGET_ADDED_MS else "MISS",
            data=figures,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--executions", type=int, default=EXECUTIONS["full"])
    args = parser.parse_args(argv)
    figures = measure(args.executions)
    if not figures["available"]:
        print(f"the sandbox cannot run here: {figures['reason']}")
        return 1
    print(f"{'isolation':<10} {'median':>10} {'min':>10} {'max':>10}   ({args.executions} each)")
    for isolation in ("process", "sandbox"):
        f = figures[isolation]
        print(
            f"{isolation:<10} {f['median_s'] * 1000:>8.1f} ms {f['min_s'] * 1000:>7.1f} ms "
            f"{f['max_s'] * 1000:>7.1f} ms"
        )
    print(f"added by the sandbox: {figures['added_ms']:+.1f} ms (target <= {TARGET_ADDED_MS:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
