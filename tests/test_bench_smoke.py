"""scripts/bench.py --smoke runs end to end and writes its table as JSON.

Only the machinery is checked (exit status, valid JSON, the expected rows); benchmarks
print figures, tests never assert on wall-clock time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"

EXPECTED_ROWS = {
    "replay[10]",
    "replay[100]",
    "replay_without_chain",
    "replay_with_chain",
    "load[10]",
    "load[100]",
    "memory[100]",
    "http_replay[10]",
    "http_replay[100]",
    "vcr_load[100]",
    "record[10]",
    "record[40]",
    "record_linear",
    "import",
    "first_replay",
    "no_heavy_imports",
    "cold_replay",
    "cold_replay_floor",
    "replay_never_imports",
    "cli_help",  # "n/a" while the CLI is absent, but always a row
    "pytest_plugin",  # likewise for the pytest plugin
    "lifecycle_report_end",
    "lifecycle_accounting",
    "lifecycle_report_overhead",
    "lifecycle_combine",
    "status[40]",
    "call_gate",
    "sandbox_overhead",  # "n/a" where bubblewrap cannot run
    "loadscale_stale[100]",  # scripts/bench_load.py
    "loadscale_cache[100]",
    "loadscale_cache_small[20]",
    "loadscale_memory[500]",
}
ROW_FIELDS = {"id", "section", "label", "figure", "target", "status", "data"}


@pytest.mark.slow
def test_bench_smoke_writes_the_table(tmp_path: Path) -> None:
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--smoke",
            "--json",
            str(json_path),
            "--markdown",
            str(markdown_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    results = json.loads(json_path.read_text(encoding="utf-8"))
    assert results["profile"] == "smoke"
    assert results["machine"]["versions"]["python"]
    rows = results["rows"]
    assert {row["id"] for row in rows} >= EXPECTED_ROWS
    for row in rows:
        assert set(row) >= ROW_FIELDS, row
        assert row["status"] in {"PASS", "MISS", "info", "n/a"}, row
        assert row["figure"], row
        if row["target"]:
            assert row["status"] in {"PASS", "MISS"}, row
    assert markdown_path.read_text(encoding="utf-8").startswith("| benchmark |")
    assert "benchmark" in proc.stdout  # the printed table
