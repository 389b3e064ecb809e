"""Parsing the service config: documented defaults, and errors that name the key and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from replaycodegen.executor import ExecutorConfigError, parse_settings
from replaycodegen.executor.config import default_execution_root
from replaycodegen.runtime import DEFAULT_CHANNELS


def config(**sections: Any) -> dict[str, Any]:
    return {"thread_id": "t1", "configurable": sections}


def test_defaults_without_config() -> None:
    settings = parse_settings(None)

    assert settings.execution_method == "local"
    assert settings.timeout_seconds == 60.0
    assert settings.memory_limit_mb == 1024
    assert settings.max_output_bytes == 1_000_000
    assert settings.execution_root == default_execution_root()
    assert settings.approval_mode == "control_writes"
    assert dict(settings.channels) == DEFAULT_CHANNELS
    assert settings.thread_id  # a fresh id


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = parse_settings(
        config(
            execution={
                "execution_method": "local",
                "timeout_seconds": 2,
                "memory_limit_mb": 256,
                "max_output_bytes": 10,
                "execution_root": str(tmp_path),
                "code_generator": "mock",
                "generators": {"mock": {"behavior": "success"}},
            },
            approval={"mode": "all_code"},
            control_system={"channels": {"X": 1}},
        )
    )

    assert settings.thread_id == "t1"
    assert settings.timeout_seconds == 2.0
    assert settings.memory_limit_mb == 256
    assert settings.max_output_bytes == 10
    assert settings.execution_root == tmp_path.resolve()
    assert settings.approval_mode == "all_code"
    assert dict(settings.channels) == {"X": 1}


def test_memory_limit_can_be_switched_off() -> None:
    assert parse_settings(config(execution={"memory_limit_mb": None})).memory_limit_mb is None


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"execution": {"execution_method": "container"}}, "execution.execution_method"),
        ({"execution": {"timeout_seconds": 0}}, "execution.timeout_seconds"),
        ({"execution": {"timeout_seconds": "10"}}, "execution.timeout_seconds"),
        ({"execution": {"memory_limit_mb": -1}}, "execution.memory_limit_mb"),
        ({"execution": {"max_output_bytes": 1.5}}, "execution.max_output_bytes"),
        ({"execution": {"execution_root": 3}}, "execution.execution_root"),
        ({"approval": {"mode": "sometimes"}}, "approval.mode"),
        ({"control_system": {"channels": ["A"]}}, "control_system.channels"),
        ({"control_system": {"channels": {"A": object()}}}, "control_system.channels"),
        ({"execution": "local"}, "configurable.execution"),
    ],
)
def test_invalid_values_name_the_key_and_the_fix(sections: dict[str, Any], key: str) -> None:
    with pytest.raises(ExecutorConfigError) as info:
        parse_settings(config(**sections))

    assert key in str(info.value)
    assert "fix:" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_execution_keys_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    parse_settings(config(execution={"timeout": 5}))

    assert "ignoring unknown execution settings ['timeout']" in caplog.text
