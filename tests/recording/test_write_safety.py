"""Symlinks, temp files and lock files (issues 11.1, 11.4, 15.5)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from replaycodegen import CassetteError, PythonExecutionRequest, load_cassette
from replaycodegen.cassette.model import Entry, Pattern
from replaycodegen.cassette.writing.locking import LOCK_DIR_ENV, lock_file_for
from replaycodegen.cassette.writing.store import CassetteStore, rewrite_entries
from replaycodegen.generation import RecordingCodeGenerator

from .conftest import ScriptedGenerator

REQ = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")


def recorded_cassette(path: Path, count: int = 2) -> Path:
    rec = RecordingCodeGenerator(ScriptedGenerator(), path, "new_episodes")
    for i in range(count):
        asyncio.run(rec.generate_code(REQ.model_copy(update={"user_query": f"q{i}"}), []))
    rec.close()
    return path


def test_a_rewrite_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = recorded_cassette(tmp_path / "store" / "real.yaml")
    link = tmp_path / "tests" / "link.yaml"
    link.parent.mkdir()
    link.symlink_to(os.path.relpath(real, link.parent))
    edit = Entry(id="e1", code="results = {'edited': True}\n",
                 request=load_cassette(real).entries[0].request)
    rewrite_entries(link, replace=[edit])
    assert link.is_symlink()
    assert load_cassette(real).entries[0].code == "results = {'edited': True}\n"
    # recording through the link appends to the target too, under the same lock
    recorder = RecordingCodeGenerator(ScriptedGenerator(), link, "new_episodes")
    asyncio.run(recorder.generate_code(REQ.model_copy(update={"user_query": "via link"}), []))
    recorder.close()
    assert link.is_symlink() and len(load_cassette(real)) == 3
    assert CassetteStore(link).lock_file == CassetteStore(real).lock_file
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.yaml"]


def test_a_symlink_loop_is_a_cassette_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    with pytest.raises(CassetteError, match="symlink loop"):
        CassetteStore(tmp_path / "a.yaml")


_KILLED_REWRITE = textwrap.dedent("""
    import os, sys, time
    from replaycodegen.cassette.model import Entry, Pattern
    from replaycodegen.cassette.writing.store import rewrite_entries

    real_replace = os.replace
    def stalled(src, dst):
        print(src, flush=True)   # the temp file is written and fsynced: now kill me
        time.sleep(120)
        real_replace(src, dst)
    os.replace = stalled
    rewrite_entries(sys.argv[1], append=[Entry(id="", code="x = 1\\n", when=Pattern(attempt=5))])
""")


@pytest.mark.slow
@pytest.mark.parametrize("next_write", ["recording", "rewrite"])
def test_a_rewrite_killed_with_sigkill_leaves_no_temp_file_behind(
    tmp_path: Path, next_write: str
) -> None:
    path = recorded_cassette(tmp_path / "c.yaml")
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_REWRITE, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    temp = Path(proc.stdout.readline().strip())
    assert temp.exists() and temp.parent == path.parent and temp.name.startswith(".c.yaml.")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert path.read_bytes() == before  # the cassette is intact
    assert temp.exists()                 # ...and the killed writer's temp file is left
    if next_write == "recording":
        recorded_cassette(path, 1)
    else:
        rewrite_entries(path, remove=["e1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_no_lock_file_is_left_next_to_cassettes(tmp_path: Path) -> None:
    path = recorded_cassette(tmp_path / "c.yaml")
    rewrite_entries(path, remove=["e2"])
    CassetteStore(path).reset()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]
    lock = lock_file_for(path.resolve())
    assert lock.exists() and lock.parent == Path(os.environ[LOCK_DIR_ENV])


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_a_lock_path_that_is_not_a_file_is_a_clear_error_at_once(
    tmp_path: Path, kind: str
) -> None:
    path = recorded_cassette(tmp_path / "c.yaml")
    lock = lock_file_for(path.resolve())
    lock.unlink()
    if kind == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(tmp_path / "elsewhere")
    store = CassetteStore(path, lock_timeout=600)  # a wait would hang the test: none happens
    with pytest.raises(CassetteError) as info:
        rewrite_entries(path, remove=["e1"])
    assert f"the lock file {lock} is a {kind}" in str(info.value)
    assert f"rm -r {lock}" in str(info.value)
    with pytest.raises(CassetteError):
        store.add(load_cassette(path), Entry(id="", code="x\n", when=Pattern()))
    assert not (tmp_path / "elsewhere").exists()
    assert len(load_cassette(path)) == 2


def test_the_default_lock_folder_is_private_in_the_user_cache(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import os, stat, sys
        from pathlib import Path
        from replaycodegen.cassette.writing.locking import lock_file_for
        lock = lock_file_for(Path(sys.argv[1]))
        print(lock.parent, oct(stat.S_IMODE(os.stat(lock.parent).st_mode)))
    """)
    env = {k: v for k, v in os.environ.items() if k != LOCK_DIR_ENV}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "c.yaml")], env=env,
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert out == [str(tmp_path / "cache" / "replaycodegen" / "locks"), "0o700"]
