"""The wheel ships the behaviour cassettes, the demo cassette and py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from replaycodegen.cassette.behaviors import BEHAVIORS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_behaviors_and_types(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("replaycodegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "plot" in BEHAVIORS  # the ninth, hand-authored like the seed's eight
    for name in BEHAVIORS:
        assert f"replaycodegen/cassettes/behaviors/{name}.yaml" in names
    assert "replaycodegen/py.typed" in names
    assert any(n.startswith("replaycodegen/cassettes/demo/") and n.endswith(".yaml")
               for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "replaycodegen = replaycodegen.pytest_plugin" in text
    assert "replaycodegen = replaycodegen.cli:main" in text
