"""Round two of attacks on the executor, each checked from outside the code.

Every test here was written against a hole that round one left open (docs/executor.md's
threat model lists them): a root service's sandbox owning host inodes (kernel settings,
device nodes, set-user-ID files), the service's session keyring, a control channel that
made the service hold gigabytes, data that crashed the service after the run (deep
nesting, lone surrogates, deep directory trees), an approval that covered more than it
showed, and a reported success that the process's own end contradicts. Attacks are
bounded (small limits, short timeouts, bounded loops) and touch only what they create.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.errors import ApprovalRequired
from replaycodegen.executor import PythonExecutorService
from replaycodegen.executor.results import ChannelWrite, RefusedChannelWrite
from replaycodegen.executor.sandbox.cgroups import TreeCgroup
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import (
    FORK_BOMB,
    SANDBOX_MISSING,
    ProcessWatch,
    ScriptedGenerator,
    attack,
    execution_folders,
    fails_once,
    processes_under,
    requires_cgroup,
    requires_sandbox,
    run_attack,
)

ISOLATIONS = [
    pytest.param(
        "sandbox", marks=pytest.mark.skipif(bool(SANDBOX_MISSING), reason=SANDBOX_MISSING)
    ),
    "process",
]
# Reaches write_channel without naming it, so the analyser sees no write.
HIDDEN_WRITE = 'globals()["write_" + "channel"]'
# Sends a hand-made outcome frame on the control channel, as the bootstrap would.
FORGE_OUTCOME = """
net = mod("sock" + "et")
struct = mod("str" + "uct")
json = mod("js" + "on")
channel = net.socket(fileno=int(os.environ["REPLAYCODEGEN_CONTROL_FD"]))
def forge(outcome):
    body = json.dumps(outcome).encode()
    channel.sendall(b"O" + struct.pack(">I", len(body)) + body)
"""


@pytest.fixture
def sandboxed(make_config: ConfigFactory) -> ConfigFactory:
    def build(**execution: Any) -> dict[str, Any]:
        return make_config(isolation="sandbox", **execution)

    return build


# --- a root service: the sandbox owns no host inode ------------------------------------


@requires_sandbox
async def test_kernel_settings_cannot_be_opened_for_writing(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    # Under a root service the code used to be host uid 0 (without capabilities), which
    # is all /proc/sys asks for: kernel.core_pattern runs a program as host root.
    targets = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/fs/file-max",
        "/proc/sysrq-trigger",
    ]
    code = attack(
        """
        outcomes = {}
        for path in TARGETS:
            try:
                os.close(os.open(path, os.O_WRONLY))  # opened only, never written
                outcomes[path] = "opened for writing"
            except OSError as exc:
                outcomes[path] = type(exc).__name__
        results = outcomes
        """,
        TARGETS=targets,
    )

    results = await run_attack(code, exec_request, sandboxed())

    assert "opened for writing" not in results.values(), results


@requires_sandbox
async def test_host_device_nodes_cannot_be_changed(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    devices = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty"]
    code = attack(
        """
        outcomes = {}
        for path in DEVICES:
            mode = os.stat(path).st_mode & 0o7777
            try:
                os.chmod(path, mode)  # its own mode: proves the permission, changes nothing
                outcomes[path] = "chmod allowed"
            except OSError as exc:
                outcomes[path] = type(exc).__name__
        with open("/dev/null", "w") as sink:  # the devices still work
            sink.write("x")
        with open("/dev/zero", "rb") as zeros:
            outcomes["zero"] = len(zeros.read(4))
        results = outcomes
        """,
        DEVICES=devices,
    )

    results = await run_attack(code, exec_request, sandboxed())

    assert results == {**{path: "PermissionError" for path in devices}, "zero": 4}


@requires_sandbox
async def test_the_code_never_runs_as_host_root(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    code = attack(
        """
        with open("made-by-the-code", "w") as handle:
            handle.write("x")
        results = {"uid_inside": os.getuid()}
        """
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, sandboxed())

    assert result.execution_result.results == {"uid_inside": 1000}
    made = result.execution_result.folder_path / "made-by-the-code"
    assert made.stat().st_uid != 0  # the service's own uid, or nobody under a root service


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_set_id_files_and_an_open_folder_are_undone_after_the_run(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        """
        shutil = mod("sh" + "util")
        shutil.copy("generated_code.py", "tool")
        os.chmod("tool", 0o6755)
        os.mkdir("shared")
        os.chmod("shared", 0o2777)
        os.chmod(".", 0o777)
        results = {"tool": os.stat("tool").st_mode & 0o7777, "dir": os.stat(".").st_mode & 0o777}
        """
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config(isolation=isolation))

    assert result.execution_result.results == {"tool": 0o6755, "dir": 0o777}  # it managed
    folder = result.execution_result.folder_path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (folder / "tool", folder / "shared"):
        assert path.stat().st_mode & (stat.S_ISUID | stat.S_ISGID) == 0


# --- the process cap without a cgroup --------------------------------------------------


def _max_processes_of(pid: int) -> str | None:
    try:
        limits = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return None
    line = next(line for line in limits.splitlines() if line.startswith("Max processes"))
    return line.split()[2]  # the soft limit


@requires_sandbox
async def test_the_process_cap_is_set_inside_the_sandbox_not_on_bubblewrap(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory, execution_root: Path
) -> None:
    # RLIMIT_NPROC set on bubblewrap counted every process of the service's user: a
    # non-root service with more threads than max_processes could not start a sandbox
    # at all ("Creating new namespace failed: Resource temporarily unavailable").
    code = attack(
        """
        time = mod("ti" + "me")
        open("running", "w").close()
        time.sleep(1.5)
        results = {}
        """
    )
    limits: dict[str, str | None] = {}

    async def look() -> None:
        for _ in range(150):
            await asyncio.sleep(0.02)
            if not list(execution_root.glob("*/running")):
                continue  # the code has not started yet
            for pid in processes_under(execution_root):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
                limits[Path(os.fsdecode(command)).name] = _max_processes_of(pid)
            if "bwrap" in limits and any(n.startswith("python") for n in limits):
                return

    looking = asyncio.create_task(look())
    await run_attack(code, exec_request, sandboxed(max_processes=40))
    await looking

    assert limits.pop("bwrap") != "40"
    assert set(limits.values()) == {"40"}  # the interpreter running the code


@requires_sandbox
async def test_without_a_cgroup_a_fork_bomb_is_still_bounded_in_the_sandbox(
    exec_request: PythonExecutionRequest,
    sandboxed: ConfigFactory,
    execution_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TreeCgroup, "create", classmethod(lambda cls, **kw: None))
    code = attack(FORK_BOMB)

    async with ProcessWatch(execution_root) as watch:
        error = await fails_once(code, exec_request, sandboxed(max_processes=12, timeout_seconds=2))

    assert error.error_type == "TimeoutError"
    assert 1 < watch.most_at_once <= 12 + 2  # with bubblewrap and its init


# --- the service's session keyring ----------------------------------------------------

_KEY_SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}  # add_key, keyctl
KEYRING_SERVICE = """
import asyncio, ctypes, json, sys
from replaycodegen.executor import PythonExecutorService
from replaycodegen.models import PythonExecutionRequest

class Generator:
    async def generate_code(self, request, error_chain):
        return CODE
    def get_generation_metadata(self):
        return {}

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(KEYCTL, 1, b"replaycodegen-attack-test")  # join a new session keyring
payload = SECRET.encode()
assert libc.syscall(ADD_KEY, b"user", b"attack-secret", payload, len(payload), -3) > 0
config = {"configurable": {"execution": {"execution_root": ROOT, "isolation": ISOLATION}}}
request = PythonExecutionRequest(
    user_query="q", task_objective="t", execution_folder_name="keyring", retries=1
)
result = asyncio.run(PythonExecutorService(generator=Generator()).ainvoke(request, config))
print(json.dumps(result.execution_result.results))
"""


@pytest.mark.skipif(platform.machine() not in _KEY_SYSCALLS, reason="keyctl numbers unknown")
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_services_session_keyring_is_out_of_reach(tmp_path: Path, isolation: str) -> None:
    add_key, keyctl = _KEY_SYSCALLS[platform.machine()]
    secret = "sk-FAKE-keyring-secret-0000"
    code = attack(
        """
        ct = mod("ct" + "ypes")
        libc = ct.CDLL(None)
        buffer = ct.create_string_buffer(200)
        found = {}
        for keyring, name in ((-3, "session"), (-4, "user"), (-5, "user-session")):
            key = libc.syscall(KEYCTL, 10, keyring, b"user", b"attack-secret", 0)  # search
            size = libc.syscall(KEYCTL, 11, key, buffer, 200) if key > 0 else -1  # read
            found[name] = buffer.raw[: max(size, 0)].decode(errors="replace")
        results = found
        """,
        KEYCTL=keyctl,
    )
    service = textwrap.dedent(KEYRING_SERVICE)
    for name, value in {
        "CODE": code, "SECRET": secret, "ROOT": str(tmp_path / "executions"),
        "ISOLATION": isolation, "KEYCTL": keyctl, "ADD_KEY": add_key,
    }.items():
        service = f"{name} = {value!r}\n" + service
    done = subprocess.run(
        [sys.executable, "-c", service], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert secret not in json.dumps(found)


# --- the control channel: bounded in the service --------------------------------------


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_control_writes_cannot_make_the_service_hold_gigabytes(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    # Each 1 MB write used to be kept twice (value and previous), in memory and in
    # control_system.json and the notebook: 100,000 of them were 200 GB in the service.
    code = attack(
        """
        value = "x" * 1_000_000
        done = 0
        try:
            for _ in range(40):
                write_channel("BEAM:CURRENT", value)
                done += 1
        except Exception as exc:
            stopped = type(exc).__name__
        results = {"done": done}
        """
    )
    config = make_config(approval="disabled", isolation=isolation)

    error = await fails_once(code, exec_request, config)

    assert error.error_type == "ControlChannelError"
    assert "MB of control-system writes" in error.error_message
    (folder,) = execution_folders(Path(config["configurable"]["execution"]["execution_root"]))
    for name in ("control_system.json", "notebook.ipynb"):
        assert (folder / name).stat().st_size < 40 * 2**20


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_refused_writes_are_bounded_too(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        f"""
        value = "y" * 1_000_000
        refused = 0
        for _ in range(40):
            try:
                {HIDDEN_WRITE}("BEAM:CURRENT", value)
            except PermissionError:
                refused += 1
            except Exception:
                break
        results = {{"refused": refused}}
        """
    )
    config = make_config(approval="control_writes", isolation=isolation)

    error = await fails_once(code, exec_request, config)

    assert error.error_type == "ControlChannelError"
    (folder,) = execution_folders(Path(config["configurable"]["execution"]["execution_root"]))
    state = json.loads((folder / "control_system.json").read_text())
    assert 0 < len(state["refused_writes"]) < 40
    assert state["writes"] == []


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_a_deeply_nested_write_is_refused_and_the_service_carries_on(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = """
value = 0
for _ in range(900):
    value = [value]
try:
    write_channel("BEAM:CURRENT", value)
    outcome = "written"
except ValueError as exc:
    outcome = str(exc)
results = {"outcome": outcome}
"""
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(
        exec_request, make_config(approval="disabled", isolation=isolation)
    )

    assert "nested deeper than" in result.execution_result.results["outcome"]
    assert result.execution_result.channel_writes == []
    assert (result.execution_result.folder_path / "notebook.ipynb").is_file()


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_a_forged_deeply_nested_outcome_is_invalid_results(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        FORGE_OUTCOME
        + """
deep = 0
for _ in range(900):
    deep = [deep]
forge({"status": "ok", "results": {"deep": deep}, "execution_time": 0.0})
os._exit(0)
"""
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "InvalidResults"
    assert "nested deeper than" in error.error_message


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_an_outcome_of_a_million_empty_lists_is_refused_before_it_is_parsed(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    # 3.3 MB of "[]," is 1.1 million lists: 70 MB of the service's memory, and a 64 MB
    # outcome of it would be 1.4 GB.
    code = attack(
        FORGE_OUTCOME
        + """
body = ('{"status": "ok", "execution_time": 0.0, "results": {"rows": ['
        + "[]," * 1_100_000 + '[]]}}').encode()
channel.sendall(b"O" + struct.pack(">I", len(body)) + body)
os._exit(0)
"""
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "InvalidResults"
    assert "more than 1,000,000 lists and dicts" in error.error_message


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_what_the_service_parses_for_the_code_is_bounded_in_bytes(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    # Reads are not kept, but each is parsed: 100,000 of 1 MB were 100 GB of work.
    code = attack(
        """
        name = "x" * 1_000_000
        answers = 0
        try:
            for _ in range(80):
                try:
                    read_channel(name)
                except KeyError:
                    answers += 1
        except Exception as exc:
            stopped = str(exc)
        results = {"answers": answers}
        """
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "ControlChannelError"
    assert "more than 64 MB of control-system requests" in error.error_message


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_lone_surrogates_and_undecodable_file_names_come_back_as_text(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        """
        with open(b"name-\\xff", "w"):  # not UTF-8: listdir gives 'name-\\udcff'
            pass
        names = sorted(n for n in os.listdir(".") if n.startswith("name-"))
        results = {"files": names, "lone": "\\ud800", "\\udfff": 1}
        """
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config(isolation=isolation))

    assert result.execution_result.results == {
        "files": ["name-\ufffd"], "lone": "\ufffd", "\ufffd": 1,
    }
    notebook = json.loads(result.execution_result.notebook_path.read_text())  # type: ignore[union-attr]
    assert notebook["nbformat"] == 4


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_an_error_message_with_a_lone_surrogate_is_reported(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = 'raise ValueError("bad \\ud800 value")\n'

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "ValueError"
    assert error.error_message == "ValueError: bad \ufffd value"


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_figures_are_bounded_in_total_not_only_each(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    # 20 "figures" of 9 MB each (a PNG signature, then anything) were 180 MB read into
    # the service and 240 MB of base64 in the notebook.
    code = attack(
        FORGE_OUTCOME
        + """
names = []
for number in range(1, 21):
    with open(f"figure-{number}.png", "wb") as handle:
        handle.write(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(9 * 2**20))
    names.append(f"figure-{number}.png")
forge({"status": "ok", "results": {}, "execution_time": 0.0, "figures": names})
os._exit(0)
"""
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config(isolation=isolation))

    figures = result.execution_result.figure_paths
    assert 0 < len(figures) < 20
    assert sum(path.stat().st_size for path in figures) <= 32 * 2**20
    assert result.execution_result.notebook_path.stat().st_size < 50 * 2**20  # type: ignore[union-attr]


# --- the folder after the run ---------------------------------------------------------


def deepest_level(folder: Path) -> int:
    """How deep directories go under ``folder`` (descriptor-based: paths may be too long)."""
    deepest = 0
    stack = [(os.open(folder, os.O_RDONLY | os.O_DIRECTORY), 0)]
    while stack:
        fd, depth = stack.pop()
        deepest = max(deepest, depth)
        with os.scandir(fd) as entries:
            names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        for name in names:
            stack.append((os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), depth + 1))
        os.close(fd)
    return deepest


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_a_deep_directory_tree_is_cut_and_never_breaks_pruning(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    execution_root: Path,
    isolation: str,
) -> None:
    # 3,000 levels in well under the watcher's 0.1 s; shutil.rmtree recursed once per
    # level, so the next service to prune this root died of RecursionError.
    code = attack(
        """
        for _ in range(3000):
            os.mkdir("d")
            os.chdir("d")
        results = {}
        """
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "DiskLimitExceeded"
    (deep,) = execution_folders(execution_root)
    assert deepest_level(deep) <= 64
    # A later service on the same root prunes it (it is not one of its own failures).
    later = PythonExecutorService(generator=ScriptedGenerator("results = {'value': 1}"))
    for _ in range(2):
        await later.ainvoke(exec_request, make_config(isolation=isolation, keep=1))
    assert deep not in execution_folders(execution_root)


async def test_a_running_folder_with_a_planted_completion_marker_is_not_pruned(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    # outcome.json marks a folder finished; the code can write one while it still runs,
    # and pruning its folder under it raced the removal against the running code.
    slow = attack(
        """
        time = mod("ti" + "me")
        open("outcome.json", "w").close()
        time.sleep(1.5)
        results = {"survived": os.path.exists("generated_code.py")}
        """
    )
    quick = "results = {'value': 1}"
    codes = iter([slow, quick, quick, quick])

    class Generator(ScriptedGenerator):
        async def generate_code(self, request: Any, error_chain: Any) -> str:
            return next(codes)

    service = PythonExecutorService(generator=Generator())
    config = make_config(keep=1)
    first = asyncio.create_task(service.ainvoke(exec_request, config))
    await asyncio.sleep(0.5)
    for _ in range(3):  # each prunes the root down to its newest finished folder
        await service.ainvoke(exec_request, config)
    result = await first

    assert result.execution_result.results == {"survived": True}  # not removed under it


# --- the approval covers what it showed -----------------------------------------------


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_an_approval_covers_only_the_channels_it_listed(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = f"""
write_channel("BEAM:ENERGY", 3.1)
try:
    {HIDDEN_WRITE}("MAGNET:QF1:SETPOINT", 999.0)
    hidden = "written"
except PermissionError as exc:
    hidden = str(exc)
results = {{"hidden": hidden}}
"""
    service = PythonExecutorService(generator=ScriptedGenerator(code))
    config = make_config(approval="control_writes", isolation=isolation)
    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, config)
    assert info.value.reasons == ["control-system write at line 2: write_channel('BEAM:ENERGY')"]

    result = await service.aresume(info.value.thread_id, approved=True)

    execution = result.execution_result
    assert execution.channel_writes == [ChannelWrite("BEAM:ENERGY", 3.1, 3.0)]
    assert execution.refused_channel_writes == [RefusedChannelWrite("MAGNET:QF1:SETPOINT", 999.0)]
    assert "not covered by the approval" in execution.results["hidden"]


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_approving_all_code_grants_no_write_it_did_not_show(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = f"""
try:
    {HIDDEN_WRITE}("MAGNET:QF1:SETPOINT", 999.0)
    hidden = "written"
except PermissionError:
    hidden = "refused"
results = {{"hidden": hidden}}
"""
    service = PythonExecutorService(generator=ScriptedGenerator(code))
    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, make_config(approval="all_code", isolation=isolation))
    assert not any("write" in reason for reason in info.value.reasons)

    result = await service.aresume(info.value.thread_id, approved=True)

    assert result.execution_result.results == {"hidden": "refused"}
    assert result.execution_result.channel_writes == []


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_a_write_to_a_computed_channel_is_approved_as_such(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = """
for name in ["BEAM:ENERGY", "MAGNET:QF1:SETPOINT"]:
    write_channel(name, 1.0)
results = {}
"""
    service = PythonExecutorService(generator=ScriptedGenerator(code))
    config = make_config(approval="control_writes", isolation=isolation)
    with pytest.raises(ApprovalRequired) as info:
        await service.ainvoke(exec_request, config)
    assert info.value.reasons == [
        "control-system write at line 3: write_channel(<computed channel>)"
    ]

    result = await service.aresume(info.value.thread_id, approved=True)

    assert [w.channel for w in result.execution_result.channel_writes] == [
        "BEAM:ENERGY", "MAGNET:QF1:SETPOINT",
    ]


# --- what the code reports against how its process ended --------------------------------


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_a_forged_success_followed_by_an_exception_is_a_failure(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        FORGE_OUTCOME
        + """
forge({"status": "ok", "results": {"forged": True}, "execution_time": 0.0})
raise RuntimeError("the real outcome")
"""
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "ProcessExited"
    assert "exited with code 1 after reporting success" in error.error_message


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_results_after_a_crash_of_the_interpreter_are_a_failure(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    code = attack(
        FORGE_OUTCOME
        + """
forge({"status": "ok", "results": {"forged": True}, "execution_time": 0.0})
signal = mod("sig" + "nal")
getattr(os, "ki" + "ll")(os.getpid(), signal.SIGSEGV)
"""
    )

    error = await fails_once(code, exec_request, make_config(isolation=isolation))

    assert error.error_type == "ProcessKilled"
    assert "SIGSEGV" in error.error_message


@requires_sandbox
@requires_cgroup
async def test_memory_held_in_the_private_tmp_counts_and_is_named(
    exec_request: PythonExecutionRequest, sandboxed: ConfigFactory
) -> None:
    # tmpfs pages are charged to the run's cgroup; with swap off they cannot be reclaimed
    # until the sandbox is gone, so the kernel kills the writer, or the tree stalls at the
    # limit until the timeout: either way the failure names the memory limit.
    code = attack(
        """
        path = "/" + "tmp/fill"
        with open(path, "wb") as handle:
            for _ in range(300):
                handle.write(b"x" * 2**20)
        results = {}
        """
    )
    config = sandboxed(memory_limit_mb=100, max_disk_mb=400, timeout_seconds=3)

    error = await fails_once(code, exec_request, config)

    assert error.error_type in ("MemoryError", "TimeoutError")
    assert "execution.memory_limit_mb=100" in error.error_message
