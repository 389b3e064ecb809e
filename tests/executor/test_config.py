"""Parsing the service config: documented defaults, and errors that name the key and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from replaycodegen.executor import ExecutorConfigError, parse_settings
from replaycodegen.runtime import DEFAULT_CHANNELS


def config(**sections: Any) -> dict[str, Any]:
    return {"thread_id": "t1", "configurable": sections}


def test_defaults_without_config() -> None:
    settings = parse_settings(None)

    assert settings.execution_method == "local"
    assert settings.timeout_seconds == 60.0
    assert settings.memory_limit_mb == 1024
    assert settings.max_output_bytes == 1_000_000
    assert settings.execution_root is None  # the service makes a fresh private one
    assert settings.approval_mode == "control_writes"
    assert dict(settings.channels) == DEFAULT_CHANNELS
    assert settings.thread_id  # a fresh id
    assert settings.isolation == "auto"
    assert settings.env == {}
    assert settings.max_processes == 512
    assert settings.max_disk_mb == 1024
    assert settings.keep == 20


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
                "isolation": "process",
                "env": {"MY_SETTING": "1"},
                "max_processes": 8,
                "max_disk_mb": 5,
                "keep": 3,
            },
            approval={"mode": "all_code"},
            control_system={"channels": {"X": 1}},
        )
    )

    assert settings.thread_id == "t1"
    assert settings.timeout_seconds == 2.0
    assert settings.memory_limit_mb == 256
    assert settings.max_output_bytes == 10
    assert settings.execution_root == tmp_path.absolute()
    assert settings.approval_mode == "all_code"
    assert dict(settings.channels) == {"X": 1}
    assert settings.isolation == "process"
    assert settings.env == {"MY_SETTING": "1"}
    assert (settings.max_processes, settings.max_disk_mb, settings.keep) == (8, 5, 3)


def test_env_names_are_copied_from_the_service_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/lib")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)

    settings = parse_settings(config(execution={"env": ["LD_LIBRARY_PATH", "NOT_SET_ANYWHERE"]}))

    assert settings.env == {"LD_LIBRARY_PATH": "/opt/lib"}


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
        ({"execution": {"isolation": "docker"}}, "execution.isolation"),
        ({"execution": {"env": "PATH"}}, "execution.env"),
        ({"execution": {"env": ["BAD-NAME"]}}, "execution.env"),
        ({"execution": {"env": {"X": 1}}}, "execution.env"),
        ({"execution": {"env": ["REPLAYCODEGEN_CONTROL_FD"]}}, "execution.env"),
        ({"execution": {"max_processes": 0}}, "execution.max_processes"),
        ({"execution": {"max_disk_mb": "1"}}, "execution.max_disk_mb"),
        ({"execution": {"keep": 0}}, "execution.keep"),
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
