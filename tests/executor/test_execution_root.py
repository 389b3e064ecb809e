"""The private execution root: fresh per service, refused when others could tamper with it,
and pruned to ``execution.keep`` finished folders (failed ones of this service kept)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from replaycodegen.errors import CodeRuntimeError
from replaycodegen.executor import ExecutorConfigError, PythonExecutorService
from replaycodegen.executor.folders import create_execution_folder, prune
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import ScriptedGenerator, execution_folders

SUCCESS = "results = {'value': 42}"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_each_service_gets_its_own_fresh_private_root(
    exec_request: PythonExecutionRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = {"configurable": {"execution": {"timeout_seconds": 10}}}
    roots = []
    for _ in range(2):
        service = PythonExecutorService(generator=ScriptedGenerator(SUCCESS))
        first = await service.ainvoke(exec_request, config)
        second = await service.ainvoke(exec_request, config)
        root = first.execution_result.folder_path.parent
        assert second.execution_result.folder_path.parent == root  # one root per service
        roots.append(root)

    assert roots[0] != roots[1]
    for root in roots:
        assert root.parent == tmp_path and root.name.startswith("replaycodegen-")
        assert mode_of(root) == 0o700
        assert root.stat().st_uid == os.geteuid()


async def test_a_configured_root_is_created_private(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, tmp_path: Path
) -> None:
    root = tmp_path / "new" / "executions"
    service = PythonExecutorService(generator=ScriptedGenerator(SUCCESS))

    result = await service.ainvoke(exec_request, make_config(execution_root=str(root)))

    assert result.execution_result.folder_path.parent == root
    assert mode_of(root) == 0o700
    assert mode_of(result.execution_result.folder_path) == 0o700


def _group_writable(path: Path) -> None:
    path.mkdir()
    path.chmod(0o777)


def _symlink(path: Path) -> None:
    real = path.with_name("real-root")
    real.mkdir(mode=0o700)
    path.symlink_to(real)


def _a_file(path: Path) -> None:
    path.write_text("not a directory")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_group_writable, "is writable by group or others (mode 777)"),
        (_symlink, "is a symlink"),
        (_a_file, "is not a directory"),
    ],
)
def test_a_root_others_could_tamper_with_is_refused(
    tmp_path: Path, make: object, problem: str
) -> None:
    root = tmp_path / "root"
    make(root)  # type: ignore[operator]

    with pytest.raises(ExecutorConfigError) as info:
        create_execution_folder(root, "x")

    assert problem in str(info.value)
    assert "execution.execution_root" in str(info.value)
    assert "fix:" in str(info.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a directory owned by another")
def test_a_root_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    os.chown(root, 12345, 12345)

    with pytest.raises(ExecutorConfigError, match="belongs to uid 12345, not to you"):
        create_execution_folder(root, "x")


async def test_keep_prunes_old_folders_but_never_this_services_failures(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    failing = "results = 1 / 0"
    service = PythonExecutorService(
        generator=ScriptedGenerator(failing, SUCCESS, SUCCESS, SUCCESS, SUCCESS)
    )
    one_attempt = exec_request.model_copy(update={"retries": 1})
    config = make_config(keep=2)

    with pytest.raises(CodeRuntimeError):
        await service.ainvoke(one_attempt, config)
    results = [await service.ainvoke(one_attempt, config) for _ in range(4)]

    folders = execution_folders(execution_root)
    newest = [r.execution_result.folder_path for r in results[-2:]]
    assert len(folders) == 3  # the two newest, and the failure
    assert set(newest) <= set(folders)
    (failed,) = set(folders) - set(newest)
    assert "ZeroDivisionError" in (failed / "outcome.json").read_text()


def test_prune_leaves_running_folders_links_and_strangers_alone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    finished = [create_execution_folder(root, f"done{n}") for n in range(3)]
    for folder in finished:
        (folder / "outcome.json").write_text("{}")
    running = create_execution_folder(root, "running")  # no outcome.json yet
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "outcome.json").write_text("{}")
    link = root / "20000101T000000000000-link-0000abcd"
    link.symlink_to(target)
    stranger = root / "my-notes"
    stranger.mkdir()

    removed = prune(root, keep=1)

    assert sorted(removed) == finished[:2]
    assert running.exists() and finished[2].exists() and stranger.exists()
    assert link.is_symlink() and (target / "outcome.json").exists()


def test_prune_removes_a_folder_the_code_locked(tmp_path: Path) -> None:
    root = tmp_path / "root"
    old, new = (create_execution_folder(root, name) for name in ("old", "new"))
    for folder in (old, new):
        (folder / "outcome.json").write_text("{}")
    locked = old / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    locked.chmod(0)

    assert prune(root, keep=1) == [old]
    assert not old.exists()
