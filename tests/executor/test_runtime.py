"""The simulated control system run by hand (no executor): the local JSON-file mode.

Inside the executor the runtime talks to the service over a socket instead; that mode is
tested through real executions (test_runner.py, test_approval_gate.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replaycodegen import runtime
from replaycodegen.runtime import DEFAULT_CHANNELS, read_channel, write_channel, write_channels


@pytest.fixture(autouse=True)
def by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """No executor: no channel descriptor, and a fresh backend for each test."""
    monkeypatch.delenv(runtime.CONTROL_FD_ENV, raising=False)
    monkeypatch.setattr(runtime, "_backend", None)


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"channels": {"A:B": 1.0, "C:D": "on"}, "writes": []}))
    monkeypatch.setenv(runtime.STATE_FILE_ENV, str(path))
    return path


def test_reads_the_seeded_value(state_file: Path) -> None:
    assert read_channel("A:B") == 1.0
    assert read_channel("C:D") == "on"


def test_write_changes_the_value_and_is_recorded(state_file: Path) -> None:
    write_channel("A:B", 2.5)

    assert read_channel("A:B") == 2.5
    state = json.loads(state_file.read_text())
    assert state["writes"] == [{"channel": "A:B", "value": 2.5, "previous": 1.0}]


def test_write_channels_writes_each_and_records_each(state_file: Path) -> None:
    write_channels({"A:B": 3.0, "C:D": "off"})

    assert (read_channel("A:B"), read_channel("C:D")) == (3.0, "off")
    assert json.loads(state_file.read_text())["writes"] == [
        {"channel": "A:B", "value": 3.0, "previous": 1.0},
        {"channel": "C:D", "value": "off", "previous": "on"},
    ]


def test_write_channels_writes_nothing_when_one_name_is_unknown(state_file: Path) -> None:
    with pytest.raises(KeyError, match="unknown channel 'TYPO'"):
        write_channels({"A:B": 3.0, "TYPO": 1})

    assert read_channel("A:B") == 1.0
    assert json.loads(state_file.read_text())["writes"] == []


def test_write_channels_needs_a_mapping(state_file: Path) -> None:
    with pytest.raises(TypeError, match="mapping of channel names"):
        write_channels([("A:B", 1.0)])  # type: ignore[arg-type]


def test_unknown_channel_names_the_known_ones(state_file: Path) -> None:
    with pytest.raises(KeyError) as info:
        read_channel("A:C")

    assert "unknown channel 'A:C'" in str(info.value)
    assert "A:B, C:D" in str(info.value)


def test_writing_an_unknown_channel_is_refused_too(state_file: Path) -> None:
    with pytest.raises(KeyError, match="known channels: A:B, C:D"):
        write_channel("TYPO", 1)
    assert json.loads(state_file.read_text())["writes"] == []


def test_non_json_values_cannot_be_written(state_file: Path) -> None:
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_channel("A:B", object())


def test_without_the_env_var_the_state_lives_in_the_cwd_with_default_channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(runtime.STATE_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    assert read_channel("BEAM:CURRENT") == DEFAULT_CHANNELS["BEAM:CURRENT"]
    write_channel("MAGNET:QF1:SETPOINT", 121.0)

    state = json.loads((tmp_path / runtime.STATE_FILE_NAME).read_text())
    assert state["channels"]["MAGNET:QF1:SETPOINT"] == 121.0
    assert state["channels"]["VACUUM:PRESSURE"] == 1e-9


def test_the_runtime_module_imports_only_the_standard_library() -> None:
    source = Path(runtime.__file__).read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }

    assert imports <= {
        "__future__", "collections", "json", "os", "pathlib", "socket", "struct",
        "threading", "typing",
    }  # fmt: skip
