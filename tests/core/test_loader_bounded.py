"""Bounded loading (issue 11.1): alias bombs, recursive aliases, odd keys and files that are
not regular files are each a CassetteError naming the file (and line), at once.

The attacks run under tracemalloc, an alarm or rlimits (a subprocess), never a wall clock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from replaycodegen import CassetteError, load_cassette, parse_cassette
from replaycodegen.cli import app

DATA = Path(__file__).resolve().parents[1] / "data" / "malformed"
BOMBS = (
    "alias_bomb.yaml",
    "alias_bomb_in_meta.yaml",
    "alias_bomb_in_expected_results.yaml",
    "alias_bomb_in_error_chain.yaml",
)


def bomb(indent: str = "", levels: int = 9) -> str:
    """The billion laughs: 9 levels of 9 aliases each, 9^9 "lol"s once expanded."""
    lines = [indent + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(indent + f"{cur}: &{cur} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a blocked read, a runaway expansion)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def traced_peak(limit_bytes: int) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"traced peak {peak:,} bytes"


@pytest.mark.parametrize("name", BOMBS)
def test_an_alias_bomb_is_refused_before_it_is_built(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes((DATA / name).read_bytes())
    assert path.stat().st_size < 700
    with alarm(20), traced_peak(8 << 20), pytest.raises(CassetteError) as info:
        load_cassette(path, cache=False)
    error = info.value
    assert error.path == str(path) and error.line is not None
    assert "alias bomb" in str(error) and "\n" not in str(error)


def test_the_bomb_of_the_issue_in_a_subprocess_with_a_memory_limit(tmp_path: Path) -> None:
    """What hung every command for 44-60 s at 2.6 GB: now refused inside 256 MiB."""
    path = tmp_path / "bomb.yaml"
    path.write_text("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x = 1\n"
                    "    meta:\n" + bomb("      "))
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
        from replaycodegen import CassetteError, load_cassette
        try:
            load_cassette({str(path)!r}, cache=False)
        except CassetteError as exc:
            print("refused:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"refused: {path}:"), done.stdout


def test_every_command_refuses_the_bomb_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_bytes((DATA / "alias_bomb_in_meta.yaml").read_bytes())
    runner = CliRunner()
    for args in (["ls", str(tmp_path)], ["lint", str(path)], ["scrub", str(path)],
                 ["show", str(path)], ["edit", str(path), "e1", "--code", "-"]):
        with alarm(30), traced_peak(32 << 20):
            result = runner.invoke(app.cli, args, input="results = {}\n")
        assert "alias bomb" in result.output, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_bomb_hidden_in_a_large_cassette_is_refused_too() -> None:
    """The budget grows with the document, not per entry: a big file gives no cover."""
    entries = "".join(
        f"  - id: e{i}\n    when: {{attempt: {i}}}\n    code: |\n      x = {i}\n"
        for i in range(1, 2001)
    )
    text = ("version: 1\nentries:\n" + entries + "  - id: last\n    when: {}\n"
            "    code: x = 1\n    meta:\n" + bomb("      "))
    with alarm(60), traced_peak(64 << 20), pytest.raises(CassetteError, match="alias bomb"):
        parse_cassette(text, "big.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ndescription: &d [*d]\nentries: []\n", "self-referencing alias"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta: &m {a: [*m]}\n",
         "self-referencing alias"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta: {1: a, b: c}\n",
         "mapping keys must be strings"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta: {yes: a}\n",
         "mapping keys must be strings"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta: {~: a}\n",
         "mapping keys must be strings"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta: {? [a]: b}\n",
         "mapping keys must be strings"),
        ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n"
         "    meta: {n: " + "9" * 5000 + "}\n", "not a number"),
    ],
)
def test_recursive_aliases_and_odd_keys_are_cassette_errors(text: str, message: str) -> None:
    with alarm(20), pytest.raises(CassetteError, match=message) as info:
        parse_cassette(text, "odd.yaml")
    assert info.value.line is not None


def test_a_long_chain_of_aliases_is_refused_not_a_recursion_error() -> None:
    """3,000 anchors each holding the one before: deeper than Python's recursion limit
    and quadratic once expanded; the budget refuses it before anything recurses."""
    chain = "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 3000))
    text = ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta:\n"
            + textwrap.indent("a0: &a0 [x]\n" + chain, "      "))
    with alarm(20), pytest.raises(CassetteError, match=r"alias bomb|nested too deeply"):
        parse_cassette(text, "deep.yaml")


def test_aliases_within_budget_still_load() -> None:
    text = textwrap.dedent("""\
        version: 1
        entries:
          - id: e1
            request: {user_query: q, expected_results: &shape {mean: float, unit: str}}
            code: x = 1
          - id: e2
            request: {user_query: r, expected_results: *shape}
            code: y = 2
        """)
    cassette = parse_cassette(text, "shared.yaml")
    first, second = cassette.entries
    assert first.request is not None and second.request is not None
    assert second.request["expected_results"] == {"mean": "float", "unit": "str"}
    assert first.request["expected_results"] is not second.request["expected_results"]


# -- only regular files are read ------------------------------------------------------------


def _special_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    loop_a, loop_b = tmp_path / "loop_a.yaml", tmp_path / "loop_b.yaml"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    return {
        "fifo": (fifo, "named pipe"),
        "symlink loop": (loop_a, "symlink loop"),
        "dangling symlink": (dangling, "dangling symlink"),
        "/dev/zero": (zero, "character device"),
        "directory": (folder, "is a directory"),
    }


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    for label, (path, message) in _special_files(tmp_path).items():
        with alarm(10), pytest.raises(CassetteError, match=message) as info:
            load_cassette(path)
        assert info.value.path == str(path), label


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\nentries: []\n" + "# padding\n" * 200_000)
    monkeypatch.setenv("REPLAYCODEGEN_MAX_CASSETTE_MB", "1")
    with traced_peak(1 << 20), pytest.raises(CassetteError, match="larger than 1 MiB"):
        load_cassette(path, cache=False)


def test_ls_lists_each_unloadable_file_with_its_error_and_goes_on(tmp_path: Path) -> None:
    specials = _special_files(tmp_path)
    (tmp_path / "good.yaml").write_text("version: 1\nentries:\n  - id: e1\n    when: {}\n"
                                        "    code: x = 1\n")
    (tmp_path / "bomb.yaml").write_bytes((DATA / "alias_bomb.yaml").read_bytes())
    (tmp_path / "vcr.yaml").write_text("interactions: []\nversion: 1\n")
    with alarm(30):
        result = CliRunner().invoke(app.cli, ["ls", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("good.yaml") or "good.yaml " in line for line in lines)
    for path, message in [*specials.values(), (tmp_path / "bomb.yaml", "alias bomb")]:
        if path.is_dir():
            continue  # a folder is walked into, not listed
        row = [line for line in lines if path.name in line]
        assert len(row) == 1 and message in row[0], (path, result.output)
    assert any("a vcrpy HTTP cassette, not a replaycodegen one: skipped" in line
               for line in lines)


def test_lint_exits_0_for_a_vcrpy_cassette(tmp_path: Path) -> None:
    path = tmp_path / "test_x.yaml"
    path.write_text("interactions:\n- request: {method: GET, uri: 'http://x'}\n"
                    "  response: {status: {code: 200, message: OK}}\nversion: 1\n")
    result = CliRunner().invoke(app.cli, ["lint", str(path)])
    assert result.exit_code == 0, result.output
    assert "a vcrpy HTTP cassette, not a replaycodegen one: skipped" in result.output
