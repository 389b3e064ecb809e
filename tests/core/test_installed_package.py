"""The package as a user installs it from a wheel (issue 15 items 19 and 22): the documents
its messages and ``--help`` point at are shipped and the paths printed exist, and ``show``
highlights code without any extra."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "replaycodegen"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("replaycodegen-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel installed into a folder of its own (its dependencies from this venv)."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    yield target


def run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def referenced_docs() -> set[str]:
    """Every document the package's messages name through ``doc_path(...)``."""
    names: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        names.update(re.findall(r"doc_path\([\"']([\w.-]+)[\"']\)", path.read_text("utf-8")))
    return names


def test_the_wheel_ships_every_document_the_messages_name(wheel: Path) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    names = referenced_docs()
    assert {"cli.md", "cassette-format.md"} <= names
    for name in names:
        assert f"replaycodegen/docs/{name}" in shipped, name
        assert (ROOT / "docs" / name).is_file(), name


def test_pygments_is_a_plain_requirement(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist()
                                 if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(line.startswith("Requires-Dist: pygments") and "extra ==" not in line
               for line in requires), requires


def test_help_of_the_installed_package_points_at_a_file_that_exists(
    installed: Path, tmp_path: Path
) -> None:
    where = run_installed(installed, "-c", "import replaycodegen; print(replaycodegen.__file__)",
                          cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed)  # not the checkout
    result = run_installed(installed, "-m", "replaycodegen.cli", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    docs = re.search(r"Docs:\s+(\S+)", result.stdout)
    assert docs is not None, result.stdout
    assert Path(docs.group(1)).is_file()
    assert Path(docs.group(1)).is_relative_to(installed)


def test_a_miss_in_the_installed_package_names_a_document_that_exists(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "c.yaml").write_text(
        "version: 1\nentries:\n  - id: retry\n    when: {attempt: 2}\n    code: 'results = {}'\n",
        encoding="utf-8",
    )
    probe = (
        "import asyncio\n"
        "from replaycodegen import CassetteMiss, MockCodeGenerator, PythonExecutionRequest\n"
        "request = PythonExecutionRequest(user_query='q', task_objective='o',\n"
        "                                 execution_folder_name='f')\n"
        "try:\n"
        "    asyncio.run(MockCodeGenerator(cassette='c.yaml').generate_code(request, []))\n"
        "except CassetteMiss as miss:\n"
        "    print(miss)\n"
    )
    result = run_installed(installed, "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (named,) = re.findall(r"(\S+cassette-format\.md)", result.stdout)
    assert Path(named).is_file() and Path(named).is_relative_to(installed)


def test_show_highlights_code_in_the_installed_package(installed: Path, tmp_path: Path) -> None:
    behaviour = installed / "replaycodegen" / "cassettes" / "behaviors" / "success.yaml"
    result = run_installed(installed, "-m", "replaycodegen.cli", "--color", "always", "show",
                           str(behaviour), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "values = [40, 2]" in
                re.sub(r"\x1b\[[0-9;]*m", "", x))
    assert line.count("\x1b[") > 2  # the code is coloured, not only the gutter
