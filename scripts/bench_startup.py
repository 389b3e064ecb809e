#!/usr/bin/env python
"""Cold start: the first replay and ``replaycodegen --help`` in fresh processes, next to
their anchors measured in the same run (issue 12, target 2).

    .venv/bin/python scripts/bench_startup.py [--reps N]   # alone; bench.py runs it as "startup"

Every figure is the best of N fresh processes, after one warm-up run of each; the subject
and its anchor run in turns, so both see the same machine load. Bytecode caching is on in
the measured processes even when ``PYTHONDONTWRITEBYTECODE`` is set here: an installed
wheel has its ``.pyc`` files (pip compiles them), and without them every figure of
replaycodegen's would include compiling its modules (about 25 ms for a replay). Rows:

- ``import``: ``import replaycodegen`` (in-process time; whole process; bare ``python``);
- ``first_replay``: ``MockCodeGenerator(behavior="success")`` + one ``generate_code``, in the
  process that just imported replaycodegen;
- ``no_heavy_imports``: whether ``import replaycodegen`` + one replay imported openai or vcr;
- ``cold_replay``: a fresh process that builds ``MockCodeGenerator(behavior="success")``
  and awaits one ``generate_code`` (``asyncio.run``), against ``python -c "import yaml,
  pydantic"`` (target at most 2x);
- ``cold_replay_floor``: the same process without replaycodegen (pydantic building
  PythonExecutionRequest's class from its source, one instance, one ``asyncio.run``; no
  PyYAML, which a replay served from the parsed-cassette cache does not import): what any
  replay with a pydantic request costs, so the difference is replaycodegen's own;
- ``cold_replay_model``: pydantic's part of it alone (the class and one instance);
- ``replay_never_imports``: modules a replay must not import (recorder, store, filelock,
  openai, vcr, executor);
- ``cli_help``: ``replaycodegen --help`` against ``python -c "import click"`` (target at
  most 1.5x).

Nothing here asserts on time: the figures are printed (tests/test_cold_start.py checks
the import promises without timing anything).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

REPLAY_TARGET = 2.0
HELP_TARGET = 1.5

REPLAY_ANCHOR = "import yaml, pydantic"
HELP_ANCHOR = "import click"

REPLAY = textwrap.dedent("""
    import asyncio
    from replaycodegen.generation import MockCodeGenerator
    from replaycodegen import PythonExecutionRequest
    generator = MockCodeGenerator(behavior="success")
    request = PythonExecutionRequest(user_query="q", task_objective="o",
                                     execution_folder_name="f")
    asyncio.run(generator.generate_code(request, []))
""")

def floor_code(*, with_asyncio: bool = True) -> str:
    """The replay process without replaycodegen: pydantic with ``PythonExecutionRequest``'s
    own class source (read from replaycodegen/models.py, so the floor builds exactly the
    model a replay builds), one instance, and one ``asyncio.run`` (``with_asyncio``). No
    PyYAML: a replay served from the parsed-cassette cache imports none."""
    models = (REPO / "replaycodegen" / "models.py").read_text(encoding="utf-8")
    (model,) = [node for node in ast.parse(models).body
                if isinstance(node, ast.ClassDef) and node.name == "PythonExecutionRequest"]
    source = ast.get_source_segment(models, model)
    lines = [
        "from typing import Any",
        "from pydantic import BaseModel, ConfigDict, Field",
        f"{source}",
        "request = PythonExecutionRequest(user_query='q', task_objective='o', "
        "execution_folder_name='f')",
    ]
    if with_asyncio:
        lines += [
            "import asyncio",
            "async def generate(request: PythonExecutionRequest) -> str:",
            "    return 'results = {}'",
            "asyncio.run(generate(request))",
        ]
    return "\n".join(lines)


NEVER_IMPORTED = (
    "replaycodegen.generation.recording",
    "replaycodegen.cassette.writing.store",
    "filelock",
    "openai",
    "vcr",
    "replaycodegen.executor",
)
"""Modules (and their submodules) that a replay must never import."""

MODULES_AFTER = REPLAY + textwrap.dedent("""
    import json, sys
    print(json.dumps(sorted(sys.modules)))
""")

IMPORT_PROBE = textwrap.dedent("""
    import time
    started = time.perf_counter()
    import replaycodegen
    imported = time.perf_counter()
    import asyncio, json, sys
    heavy = ("openai", "vcr", "httpx2", "httpx")
    after_import = {name: name in sys.modules for name in heavy}
    modules = len(sys.modules)
    replay_started = time.perf_counter()
    generator = replaycodegen.MockCodeGenerator(behavior="success")
    request = replaycodegen.PythonExecutionRequest(user_query="q", task_objective="o",
                                                   execution_folder_name="f")
    asyncio.run(generator.generate_code(request, []))
    first_replay = time.perf_counter() - replay_started
    after_replay = {name: name in sys.modules for name in heavy}
    print(json.dumps({"import_s": imported - started, "first_replay_s": first_replay,
                      "after_import": after_import, "after_replay": after_replay,
                      "modules": modules}))
""")

AddRow = Callable[..., Any]
"""``add_row(id=, label=, figure=, target=, status=, data=)``: one line of the table."""


def child_env() -> dict[str, str]:
    """No inherited pytest, coverage, PYTHONPATH or no-bytecode settings in the measured
    processes."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "COV_CORE"))
        and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }


def run_process(command: Sequence[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(list(command), capture_output=True, text=True, env=child_env(),
                          cwd=REPO, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return elapsed, proc


def best_of(reps: int, commands: dict[str, Sequence[str]]) -> dict[str, list[float]]:
    """Wall time of each command, ``reps`` rounds, the commands in turns within a round."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        run_process(command)  # warm-up: bytecode caches, the OS's file cache
    for _ in range(reps):
        for name, command in commands.items():
            times[name].append(run_process(command)[0])
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def status(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def help_command() -> list[str]:
    script = Path(sys.executable).with_name("replaycodegen")
    if script.exists():
        return [str(script), "--help"]
    return [sys.executable, "-m", "replaycodegen.cli", "--help"]


def bench_startup(reps: int, add_row: AddRow) -> None:
    """Measure and report every row (see the module docstring)."""
    python = sys.executable
    reps = max(1, reps)

    imports, first_replays, walls, bare = [], [], [], []
    probe: dict[str, Any] = {}
    run_process([python, "-c", IMPORT_PROBE])  # warm-up
    for _ in range(reps):
        _, proc = run_process([python, "-c", IMPORT_PROBE])
        probe = json.loads(proc.stdout.strip().splitlines()[-1])
        imports.append(probe["import_s"])
        first_replays.append(probe["first_replay_s"])
        walls.append(run_process([python, "-c", "import replaycodegen"])[0])
        bare.append(run_process([python, "-c", "pass"])[0])
    add_row(id="import", label=f"import replaycodegen (fresh process, best of {reps})",
            figure=f"{ms(min(imports))} (whole process {ms(min(walls))}; bare python "
            f"{ms(min(bare))})",
            data={"import_s": min(imports), "imports_s": imports, "process_s": min(walls),
                  "bare_python_s": min(bare), "modules_loaded": probe.get("modules")})
    add_row(id="first_replay",
            label="first replay after import: MockCodeGenerator(behavior=...) + generate_code",
            figure=ms(min(first_replays)),
            data={"first_replay_s": min(first_replays), "runs_s": first_replays})
    heavy_import = [m for m in ("openai", "vcr") if probe["after_import"][m]]
    heavy_replay = [m for m in ("openai", "vcr") if probe["after_replay"][m]]
    clean = not heavy_import and not heavy_replay
    add_row(id="no_heavy_imports",
            label="import replaycodegen + one replay: openai / vcr imported?",
            figure="neither" if clean else
            f"after import: {heavy_import or 'none'}; after replay: {heavy_replay or 'none'}",
            target="neither", status=status(clean),
            data={"after_import": probe["after_import"], "after_replay": probe["after_replay"]})

    times = best_of(reps, {
        "anchor": [python, "-c", REPLAY_ANCHOR],
        "replay": [python, "-c", REPLAY],
        "floor": [python, "-c", floor_code()],
        "model": [python, "-c", floor_code(with_asyncio=False)],
    })
    anchor, replay, floor, model = (min(times[k]) for k in ("anchor", "replay", "floor",
                                                            "model"))
    ratio = replay / anchor
    add_row(id="cold_replay",
            label=f"cold replay: fresh process, MockCodeGenerator(behavior='success') + one "
            f"generate_code, vs python -c \"{REPLAY_ANCHOR}\" (best of {reps})",
            figure=f"{ms(replay)} = {ratio:.2f}x the anchor ({ms(anchor)})",
            target=f"<= {REPLAY_TARGET:g}x", status=status(ratio <= REPLAY_TARGET),
            data={"replay_s": replay, "anchor_s": anchor, "ratio": ratio, "runs_s": times})
    add_row(id="cold_replay_floor",
            label="the same process without replaycodegen (PythonExecutionRequest's pydantic "
            "model, one instance, one asyncio.run)",
            figure=f"{ms(floor)} = {(floor / anchor):.2f}x the anchor; replaycodegen's own "
            f"share {ms(replay - floor)}",
            data={"floor_s": floor, "floor_ratio": floor / anchor, "own_s": replay - floor})
    add_row(id="cold_replay_model",
            label="the pydantic model alone (its class built, one instance; no asyncio)",
            figure=f"{ms(model)} = {(model / anchor):.2f}x the anchor ('import pydantic' "
            "does not import BaseModel: pydantic loads it lazily)",
            data={"model_s": model, "model_ratio": model / anchor})

    _, proc = run_process([python, "-c", MODULES_AFTER])
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    found = sorted({name for name in NEVER_IMPORTED for module in loaded
                    if module == name or module.startswith(name + ".")})
    add_row(id="replay_never_imports",
            label="a replay imports the recorder, store, filelock, openai, vcr or executor?",
            figure="none of them" if not found else ", ".join(found),
            target="none", status=status(not found),
            data={"imported": found, "checked": list(NEVER_IMPORTED), "modules": len(loaded)})

    if not (REPO / "replaycodegen" / "cli").is_dir():
        add_row(id="cli_help", label="replaycodegen --help", figure="n/a (CLI not present)",
                status="n/a")
        return
    times = best_of(reps, {"anchor": [python, "-c", HELP_ANCHOR], "help": help_command()})
    anchor, shown = min(times["anchor"]), min(times["help"])
    ratio = shown / anchor
    add_row(id="cli_help",
            label=f"replaycodegen --help (whole process) vs python -c \"{HELP_ANCHOR}\" "
            f"(best of {reps})",
            figure=f"{ms(shown)} = {ratio:.2f}x the anchor ({ms(anchor)})",
            target=f"<= {HELP_TARGET:g}x", status=status(ratio <= HELP_TARGET),
            data={"help_s": shown, "anchor_s": anchor, "ratio": ratio, "runs_s": times,
                  "command": help_command()[0]})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=7, help="fresh processes per figure (best of)")
    args = parser.parse_args(argv)

    def add_row(**row: Any) -> None:
        target = f"  [{row.get('status')} {row['target']}]" if row.get("target") else ""
        print(f"  {row['label']}: {row['figure']}{target}", flush=True)

    print(f"cold start, best of {args.reps} fresh processes ({sys.executable})")
    bench_startup(args.reps, add_row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
