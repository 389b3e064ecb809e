"""The sandbox's parts on their own: the bwrap command line, cgroup discovery and limits,
the folder measurement, and the control channel's caps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import replaycodegen
from replaycodegen import runtime
from replaycodegen.executor.runner import RunLimits, create_execution_folder, run_code
from replaycodegen.executor.sandbox import SandboxLayout, bwrap_command
from replaycodegen.executor.sandbox.bwrap import minimal_cover, python_read_only_paths
from replaycodegen.executor.sandbox.cgroups import CgroupHost, TreeCgroup
from replaycodegen.executor.sandbox.diskwatch import MAX_DEPTH, measure_folder
from replaycodegen.runtime import DEFAULT_CHANNELS

from .helpers import SANDBOX_MISSING

CHECKOUT = Path(replaycodegen.__file__).resolve().parent.parent


# --- the bwrap command line ------------------------------------------------------------


def command_for(folder: Path, env: dict[str, str] | None = None) -> list[str]:
    layout = SandboxLayout(folder, env or {"PATH": "/usr/bin"}, 2**20, 11, 12)
    return bwrap_command("bwrap", layout, ["python", "x.py"], {"--size", "--disable-userns"})


def binds(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, arg in enumerate(argv) if arg == flag]


def test_the_folder_is_the_only_writable_host_path(tmp_path: Path) -> None:
    argv = command_for(tmp_path)

    assert binds(argv, "--bind") == [(str(tmp_path), str(tmp_path))]
    assert "--dev-bind" not in argv
    for flag in ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                 "--die-with-parent", "--new-session", "--clearenv", "--disable-userns"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--") + 1 :] == ["python", "x.py"]


def test_read_only_binds_hold_the_package_never_the_checkout_or_home(tmp_path: Path) -> None:
    sources = {source for source, _ in binds(command_for(tmp_path), "--ro-bind")}
    package = str(Path(replaycodegen.__file__).resolve().parent)

    assert package in sources or any(package.startswith(s + "/") for s in sources)
    assert str(CHECKOUT) not in sources
    assert "/" not in sources and "/root" not in sources and "/home" not in sources
    assert str(Path.home()) not in sources
    assert "/etc/passwd" not in sources and "/etc/shadow" not in sources


def test_the_environment_is_exactly_the_allow_list(tmp_path: Path) -> None:
    argv = command_for(tmp_path, {"PATH": "/usr/bin", "HOME": str(tmp_path)})

    settings = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == "--setenv"]
    assert settings == [("PATH", "/usr/bin"), ("HOME", str(tmp_path))]
    assert argv.index("--clearenv") < argv.index("--setenv")


def test_binds_under_tmp_land_on_the_private_tmp_not_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout (and its venv) under /tmp, as CI may clone it: the private /tmp must be
    # mounted first, or it would hide the interpreter and the package.
    from replaycodegen.executor.sandbox import bwrap

    venv = Path("/tmp/some-clone/.venv")
    monkeypatch.setattr(bwrap, "python_read_only_paths", lambda: (venv,))

    argv = command_for(Path("/tmp/runs/folder"))

    tmpfs = argv.index("/tmp", argv.index("--tmpfs"))
    assert argv.index(str(venv)) > tmpfs
    assert argv.index("/tmp/runs/folder") > tmpfs


def test_minimal_cover_drops_nested_and_system_paths(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "c").mkdir()

    cover = minimal_cover(
        [tmp_path / "a" / "b", tmp_path / "a", tmp_path / "c", Path("/usr/lib"), Path("/"),
         tmp_path / "missing"]
    )

    assert cover == (tmp_path / "a", tmp_path / "c")


def test_the_python_paths_cover_the_interpreter_and_site_packages() -> None:
    paths = python_read_only_paths()

    import sys

    for needed in (Path(sys.prefix), Path(sys.base_prefix)):
        assert any(needed == p or p in needed.parents for p in paths) or str(needed).startswith(
            "/usr"
        )


# --- cgroups -----------------------------------------------------------------------------

V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 /docker/abc /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/with\\040space rw,relatime - cgroup2 cgroup2 rw
"""


def test_cgroup_directories_are_found_from_mountinfo() -> None:
    host = CgroupHost(V1_MOUNTS, "4:memory:/svc/a\n8:pids:/docker/abc/inner\n0::/user.slice\n")

    assert host.directory("memory") == Path("/sys/fs/cgroup/memory/svc/a")
    assert host.directory("pids") == Path("/sys/fs/cgroup/pids/inner")  # mount root stripped
    assert host.directory("") == Path("/sys/fs/cgroup/with space/user.slice")
    assert host.directory("cpu") is None


def test_a_process_outside_the_mounted_subtree_gets_no_cgroup() -> None:
    host = CgroupHost(V1_MOUNTS, "8:pids:/elsewhere\n")

    assert host.directory("pids") is None


def fake_v2(tmp_path: Path, controllers: str, enabled: str) -> CgroupHost:
    parent = tmp_path / "cg" / "service"
    parent.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text(controllers)
    (parent / "cgroup.subtree_control").write_text(enabled)
    mounts = f"41 31 0:38 / {tmp_path / 'cg'} rw - cgroup2 cgroup2 rw\n"
    return CgroupHost(mounts, "0::/service\n")


def test_v2_without_the_memory_and_pids_controllers_is_not_used(tmp_path: Path) -> None:
    host = fake_v2(tmp_path, "cpu io", "")

    assert TreeCgroup.create(memory_bytes=2**20, max_processes=4, host=host) is None
    assert sorted(p.name for p in (tmp_path / "cg" / "service").iterdir()) == [
        "cgroup.controllers",
        "cgroup.subtree_control",
    ]


def test_a_cgroup_that_cannot_be_joined_is_not_used(tmp_path: Path) -> None:
    host = fake_v2(tmp_path, "memory pids", "memory pids")  # a plain directory: no procs file

    assert TreeCgroup.create(memory_bytes=2**20, max_processes=4, host=host) is None


def test_v2_limits_are_written_with_swap_off(tmp_path: Path) -> None:
    directory = tmp_path / "group"
    directory.mkdir()
    (directory / "memory.swap.max").write_text("max")
    cgroup = TreeCgroup(2, directory, directory)

    cgroup._set_limits(64 * 2**20, 16)

    assert (directory / "memory.max").read_text() == str(64 * 2**20)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "pids.max").read_text() == "16"


def test_v1_limits_set_memory_and_swap_alike(tmp_path: Path) -> None:
    memory, pids = tmp_path / "memory", tmp_path / "pids"
    memory.mkdir()
    pids.mkdir()
    (memory / "memory.memsw.limit_in_bytes").write_text("-1")
    cgroup = TreeCgroup(1, memory, pids)

    cgroup._set_limits(2**20, 8)

    assert (memory / "memory.limit_in_bytes").read_text() == str(2**20)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(2**20)
    assert (pids / "pids.max").read_text() == "8"


def test_oom_and_process_limit_counters_are_read(tmp_path: Path) -> None:
    directory = tmp_path / "group"
    directory.mkdir()
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (directory / "pids.events").write_text("max 0\n")
    cgroup = TreeCgroup(2, directory, directory)

    assert cgroup.oom_killed()
    assert not cgroup.hit_process_limit()


# --- the folder measurement --------------------------------------------------------------


def test_sparse_files_count_what_is_allocated_and_links_are_not_followed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    with open(folder / "sparse", "wb") as handle:
        handle.seek(100 * 2**20)
        handle.write(b"x")
    (folder / "data").write_bytes(b"y" * 2**20)
    big_outside = tmp_path / "outside"
    big_outside.mkdir()
    (big_outside / "big").write_bytes(b"z" * 4 * 2**20)
    (folder / "link").symlink_to(big_outside)

    usage = measure_folder(folder, 100)

    assert 2**20 <= usage.bytes < 2 * 2**20
    assert usage.entries == 3
    assert usage.problem(2 * 2**20, 100) is None
    assert usage.problem(2**19, 100) is not None


def test_too_many_entries_and_too_deep_trees_are_over_the_cap(tmp_path: Path) -> None:
    wide = tmp_path / "wide"
    wide.mkdir()
    for number in range(20):
        (wide / str(number)).touch()
    deep = tmp_path / "deep"
    path = deep
    for _ in range(MAX_DEPTH + 2):
        path = path / "d"
    path.mkdir(parents=True)

    assert "more than 10 files" in (measure_folder(wide, 10).problem(2**30, 10) or "")
    assert "deeper than" in (measure_folder(deep, 10_000).problem(2**30, 10_000) or "")


# --- the control channel's caps ----------------------------------------------------------


async def run(code: str, tmp_path: Path) -> object:
    folder = create_execution_folder(tmp_path / "runs", "channel")
    return await run_code(
        textwrap.dedent(code),
        folder,
        limits=RunLimits(timeout_seconds=10, memory_limit_mb=None, max_output_bytes=10_000),
        channels=DEFAULT_CHANNELS,
        writes_allowed=True,
    )


async def test_an_oversized_frame_cuts_the_channel_off(tmp_path: Path) -> None:
    outcome = await run(
        """
        import os, struct
        fd = int(os.environ["REPLAYCODEGEN_CONTROL_FD"])
        os.write(fd, b"R" + struct.pack(">I", 512 * 2**20))
        os.read(fd, 1 << 16)
        results = {}
        """,
        tmp_path,
    )

    failure = outcome.failure  # type: ignore[attr-defined]
    assert failure.error_type == "ControlChannelError"
    assert "a request of 536870912 bytes is over 1048576" in failure.message


async def test_requests_past_the_cap_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "MAX_REQUESTS", 5)  # the service's cap

    outcome = await run(
        """
        answers = []
        for _ in range(7):
            try:
                answers.append(read_channel("BEAM:CURRENT"))
            except Exception as exc:
                answers.append(f"{type(exc).__name__}: {exc}")
        print(answers)
        results = {}
        """,
        tmp_path,
    )

    stdout = outcome.stdout  # type: ignore[attr-defined]
    assert stdout.count("500.0") == 5
    assert "RuntimeError: control channel closed: more than 5 control-system requests" in stdout
    assert "ConnectionError" in stdout
    assert outcome.failure.error_type == "ControlChannelError"  # type: ignore[attr-defined]


@pytest.mark.parametrize("isolation", ["sandbox", "process"])
async def test_the_code_inherits_only_stdio_and_the_channel(tmp_path: Path, isolation: str) -> None:
    if isolation == "sandbox" and SANDBOX_MISSING:
        pytest.skip(SANDBOX_MISSING)
    folder = create_execution_folder(tmp_path / "runs", "fds")
    code = """
import os
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
results = {"fds": fds, "channel": os.environ["REPLAYCODEGEN_CONTROL_FD"]}
"""
    outcome = await run_code(
        code, folder,
        limits=RunLimits(timeout_seconds=10, memory_limit_mb=None, max_output_bytes=10_000),
        channels=DEFAULT_CHANNELS, writes_allowed=True, isolation=isolation,  # type: ignore[arg-type]
    )

    assert outcome.results is not None
    fds = outcome.results["fds"]
    channel = outcome.results["channel"]
    listing = [fd for fd, target in fds.items() if target.startswith("/proc/")]
    assert set(fds) - set(listing) == {"0", "1", "2", channel}
    assert fds[channel].startswith("socket:")
