"""Generated workloads for scripts/bench.py: realistic recorded cassette entries.

Every figure of the benchmark is measured on these entries. They are deterministic (a
seeded ``random.Random``), built in memory and written to a temp dir by the benchmark;
nothing is cached in the repository.

An entry looks like a real recording: a request with ``user_query``, ``task_objective``
and ``expected_results`` (sometimes capability prompts and context data), 10-30 lines of
code, metadata with model, usage, latency and ``recorded_at``; about 20% are retries of
the previous request with a 1-2 item error chain whose messages hold the volatile text
(temp paths, hex addresses, timestamps, UUIDs) the key normalises away.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

from replaycodegen.cassette.model import Cassette, Entry, RecordedError
from replaycodegen.models import ExecutionError, PythonExecutionRequest

MODEL = "gpt-4o-mini"
CHAIN_SHARE = 0.2
"""Share of entries that are retries with a non-empty error chain."""
_RETRY_CHANCE = CHAIN_SHARE / (1 - CHAIN_SHARE)
"""A retry follows only a first attempt: p(retry | first) = share / (1 - share)."""

_DEVICES = (
    ("beam current", "BEAM:CURRENT", "mA"),
    ("vacuum pressure", "VAC:SECTOR{n}:PRESSURE", "mbar"),
    ("cavity phase", "RF:CAVITY{n}:PHASE", "deg"),
    ("quadrupole current", "MAG:QUAD{n}:CURRENT", "A"),
    ("beam position", "BPM:{n}:X", "mm"),
    ("rack temperature", "TEMP:RACK{n}", "degC"),
    ("cooling water flow", "CW:LOOP{n}:FLOW", "l/min"),
    ("klystron power", "RF:KLY{n}:POWER", "kW"),
)
_VERBS = ("Compute", "Summarise", "Report", "Estimate", "Check", "Plot the statistics of")
_PERIODS = ("hour", "6 hours", "day", "shift", "week", "10 minutes")
_STATS = (
    ("mean", "statistics.mean(window)"),
    ("median", "statistics.median(window)"),
    ("stdev", "statistics.pstdev(window)"),
    ("minimum", "min(window)"),
    ("maximum", "max(window)"),
    ("spread", "max(window) - min(window)"),
)
_ERRORS = (
    ("NameError", "execution", "name 'statistics' is not defined"),
    ("ZeroDivisionError", "execution", "division by zero"),
    ("KeyError", "execution", "'{channel}'"),
    ("SyntaxError", "analysis", "invalid syntax (main.py, line {line})"),
    ("TimeoutError", "execution", "read of {channel} timed out at {ts}"),
    ("AttributeError", "execution", "'NoneType' object has no attribute 'values' at {addr}"),
    ("ValueError", "execution", "could not convert string to float: 'n/a'"),
)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One recorded pair: keyed request fields + error chain -> code, with metadata."""

    fields: dict[str, Any]
    chain: tuple[ExecutionError, ...]
    code: str
    meta: dict[str, Any]


def _channel(rng: random.Random, template: str) -> str:
    return template.format(n=rng.randint(1, 48))


def _code(rng: random.Random, channel: str, unit: str, stats: list[tuple[str, str]]) -> str:
    lines = [
        "import statistics",
        "from datetime import datetime, timedelta, timezone",
        "",
        f'history = read_channel("{channel}:HISTORY")',
        f"window = [float(v) for v in history[-{rng.choice((60, 360, 720, 1440))}:]]",
        "if not window:",
        '    raise ValueError("no samples in the window")',
    ]
    optional = [
        [
            f"threshold = {rng.uniform(0.5, 50):.2f}",
            "outliers = [v for v in window if abs(v - statistics.mean(window)) > threshold]",
        ],
        [
            "now = datetime.now(timezone.utc)",
            f"start = now - timedelta(minutes={rng.randint(5, 600)})",
        ],
        [
            "buckets = {}",
            "for index, value in enumerate(window):",
            "    bucket = index // 60",
            "    buckets.setdefault(bucket, []).append(value)",
            "hourly = {k: statistics.mean(v) for k, v in buckets.items()}",
        ],
        [
            f'limit = float(read_channel("{channel}:LIMIT"))',
            "alarms = sum(1 for v in window if v > limit)",
        ],
        [
            "trend = (window[-1] - window[0]) / max(len(window) - 1, 1)",
            f"drift_per_hour = trend * {rng.choice((60, 120, 3600))}",
        ],
    ]
    rng.shuffle(optional)
    for block in optional[: rng.randint(0, len(optional))]:
        lines.extend(block)
    lines.append("")
    lines.append("results = {")
    for name, expression in stats:
        lines.append(f'    "{name}": {expression},')
    lines.append(f'    "unit": "{unit}",')
    lines.append('    "samples": len(window),')
    lines.append("}")
    while len(lines) < 10:
        lines.insert(3, f"# {channel}: {unit}")
    return "\n".join(lines[:30]) + "\n"


def _fields(rng: random.Random, index: int) -> tuple[dict[str, Any], str, str]:
    label, template, unit = rng.choice(_DEVICES)
    channel = _channel(rng, template)
    period = rng.choice(_PERIODS)
    stats = rng.sample(_STATS, rng.randint(1, 4))
    fields: dict[str, Any] = {
        "user_query": f"{rng.choice(_VERBS)} the {label} of {channel} over the last {period} "
        f"(request {index})",
        "task_objective": f"Read {channel} history and compute "
        + ", ".join(name for name, _ in stats)
        + f" in {unit}",
        "expected_results": {
            **{name: f"float, the {name} in {unit}" for name, _ in stats},
            "unit": "str",
            "samples": "int, number of samples used",
        },
        "capability_prompts": [],
        "capability_context_data": None,
    }
    if rng.random() < 0.3:
        fields["capability_prompts"] = [
            "Use read_channel(name) to read a control-system channel; it returns a list "
            "for :HISTORY channels and a float otherwise. Never write channels."
        ]
    if rng.random() < 0.2:
        fields["capability_context_data"] = {
            "sector": rng.randint(1, 12),
            "operator": rng.choice(("alice", "bob", "carol")),
            "shift": rng.choice(("early", "late", "night")),
        }
    return fields, channel, unit


def _error(rng: random.Random, attempt: int, channel: str, code: str) -> ExecutionError:
    error_type, stage, message = rng.choice(_ERRORS)
    run = uuid.UUID(int=rng.getrandbits(128))
    ts = f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:07Z"
    message = message.format(
        channel=channel, line=rng.randint(2, 20), ts=ts, addr=f"0x{rng.getrandbits(48):012x}"
    )
    folder = f"/tmp/replaycodegen-{run}/attempt_{attempt}"
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "{folder}/main.py", line {rng.randint(2, 20)}, in <module>\n'
        f"{error_type}: {message}"
    )
    if error_type != "SyntaxError":
        message = f"{message} (in {folder}/main.py)"
    return ExecutionError(
        error_type=error_type,
        error_message=message,
        failed_code=code,
        traceback=traceback,
        attempt_number=attempt,
        stage=stage,
    )


def _meta(rng: random.Random, index: int, code: str) -> dict[str, Any]:
    prompt_tokens = rng.randint(250, 1400)
    completion_tokens = max(40, len(code) // 4 + rng.randint(-20, 20))
    day, second = divmod(index, 86400)
    return {
        "generator": "openai",
        "provider": "openai",
        "model": MODEL,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "latency_ms": round(rng.uniform(400, 4000), 1),
        "prompt_sha256": hashlib.sha256(f"prompt-{index}".encode()).hexdigest(),
        "recorded_at": f"2026-11-{1 + day % 28:02d}T{second // 3600:02d}:"
        f"{second % 3600 // 60:02d}:{second % 60:02d}Z",
    }


def make_workload(count: int, seed: int = 7) -> list[WorkItem]:
    """``count`` recorded pairs; about :data:`CHAIN_SHARE` of them carry an error chain.

    A retry reuses the request of the entry before it (as a failed first attempt and its
    fix would be recorded) with a 1-2 item chain, so its key differs by the chain only.
    """
    rng = random.Random(seed)
    items: list[WorkItem] = []
    channel, unit, stats_fields = "", "", {}
    for index in range(count):
        retry = bool(items) and not items[-1].chain and rng.random() < _RETRY_CHANCE
        if retry:
            fields = items[-1].fields
            chain = [_error(rng, 1, channel, items[-1].code)]
            if rng.random() < 0.3:
                chain.append(_error(rng, 2, channel, items[-1].code))
        else:
            fields, channel, unit = _fields(rng, index)
            stats_fields = fields
            chain = []
        stats = [s for s in _STATS if s[0] in stats_fields["expected_results"]] or [_STATS[0]]
        code = _code(rng, channel, unit, stats)
        items.append(WorkItem(fields, tuple(chain), code, _meta(rng, index, code)))
    return items


def to_entry(index: int, item: WorkItem) -> Entry:
    """The cassette entry a recorder would have written for ``item``."""
    return Entry(
        id=f"e{index + 1}",
        code=item.code,
        request=json.loads(json.dumps(item.fields)),
        error_chain=[RecordedError(e.error_type, e.stage, e.error_message) for e in item.chain],
        meta=json.loads(json.dumps(item.meta)),
    )


def describe(count: int) -> str:
    return f"replaycodegen benchmark workload: {count} recorded entries"


def to_cassette(items: list[WorkItem], path: str | None = None) -> Cassette:
    entries = (to_entry(i, item) for i, item in enumerate(items))
    return Cassette(entries, path=path, description=describe(len(items)))


def to_call(item: WorkItem, run: int) -> tuple[PythonExecutionRequest, list[ExecutionError]]:
    """A fresh request (as a test would build it) and its error chain for ``item``."""
    request = PythonExecutionRequest(
        **item.fields,
        execution_folder_name=f"bench-run-{run}",
        execution_folder_path=f"/tmp/replaycodegen-bench/run-{run}",
    )
    return request, list(item.chain)
