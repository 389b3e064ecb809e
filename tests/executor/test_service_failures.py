"""The service's own failures are clean (issue 11.7): a full disk raises the project's error
with the path and the fix; results that cannot be serialised say what they are."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import fails_once


async def test_a_huge_int_in_results_is_reported_as_what_it_is(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    error = await fails_once("results = {'x': 10 ** 5000}", exec_request, make_config())

    assert error.error_type == "InvalidResults"
    assert error.error_message.startswith(
        "InvalidResults: results['x'] is an int too large to serialise"
    )
    assert "return it as str() or a float" in error.error_message


async def test_the_path_to_the_huge_int_is_named(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "results = {'rows': [{'n': 1}, {'n': 7 ** 9000}]}"

    error = await fails_once(code, exec_request, make_config())

    assert "results['rows'][1]['n'] is an int too large" in error.error_message


async def test_lifting_the_int_limit_in_the_code_does_not_get_past_the_service(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "import sys\nsys.set_int_max_str_digits(0)\nresults = {'x': 10 ** 5000}"

    error = await fails_once(code, exec_request, make_config())

    assert error.error_type == "InvalidResults"
    assert "an int of 5001 digits, too large to serialise" in error.error_message


FULL_DISK_SCRIPT = """
import asyncio, json, sys
from replaycodegen.errors import ExecutionStorageError
from replaycodegen.executor import PythonExecutorService
from replaycodegen.models import PythonExecutionRequest

FILL = '''
import os
os.mkdir("fill")
number = 0
try:
    while True:  # fill the file system, 64 KB at a time
        with open(f"fill/{number}", "wb") as handle:
            handle.write(b"x" * 65536)
        number += 1
except OSError:
    pass
for _ in range(FREE):
    number -= 1
    os.remove(f"fill/{number}")
raise RuntimeError("the disk is full; try again")
'''


class Generator:
    # Attempt 1 fills the disk and leaves 192 KB free; the retry fills it up.

    async def generate_code(self, request, error_chain):
        return f"FREE = {3 if not error_chain else 0}\\n" + FILL

    def get_generation_metadata(self):
        return {}


async def main(root):
    request = PythonExecutionRequest(user_query="q", task_objective="o",
                                     execution_folder_name="full", retries=3)
    config = {"configurable": {"execution": {
        "execution_root": root, "isolation": "process", "max_disk_mb": 100,
        "timeout_seconds": 30}}}
    try:
        await PythonExecutorService(Generator()).ainvoke(request, config)
    except ExecutionStorageError as exc:
        print(json.dumps({"type": type(exc).__name__, "message": str(exc), "path": exc.path,
                          "chain": len(exc.error_chain)}))
    except Exception as exc:
        print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))


asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bwrap for a small tmpfs")
def test_a_full_disk_raises_the_projects_error_with_the_path_and_the_fix(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(textwrap.dedent(FULL_DISK_SCRIPT))
    root = small / "executions"
    # A 2 MB file system of its own for the execution root, in a private mount namespace.
    command = [
        "bwrap", "--unshare-user", "--dev-bind", "/", "/",
        "--size", str(2 * 2**20), "--tmpfs", str(small),
        "--", sys.executable, str(script), str(root),
    ]  # fmt: skip

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["type"] == "ExecutionStorageError", report
    assert report["path"].startswith(str(root))
    assert "No space left on device" in report["message"]
    assert report["path"] in report["message"]
    assert "fix: free disk space" in report["message"]
    assert "attempt2" in report["path"] and report["chain"] == 1  # raised during the retry
