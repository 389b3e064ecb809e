"""Turn the service's config dict into typed settings, with defaults and precise errors.

The config has the seed's shape::

    {"thread_id": "t1",
     "configurable": {"execution": {...}, "approval": {...}, "control_system": {...}}}
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from replaycodegen.errors import ReplayCodegenError
from replaycodegen.runtime import DEFAULT_CHANNELS

logger = logging.getLogger("replaycodegen.executor")

ApprovalMode = Literal["disabled", "control_writes", "all_code"]
APPROVAL_MODES: tuple[str, ...] = get_args(ApprovalMode)
Isolation = Literal["auto", "sandbox", "process"]
ISOLATIONS: tuple[str, ...] = get_args(Isolation)
EXECUTION_METHODS = ("local",)

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MEMORY_LIMIT_MB = 1024
DEFAULT_MAX_OUTPUT_BYTES = 1_000_000
DEFAULT_MAX_PROCESSES = 512
DEFAULT_MAX_DISK_MB = 1024
DEFAULT_KEEP = 20
DEFAULT_APPROVAL_MODE: ApprovalMode = "control_writes"
DEFAULT_ISOLATION: Isolation = "auto"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_EXECUTION_KEYS = frozenset(
    {
        "execution_method",
        "timeout_seconds",
        "memory_limit_mb",
        "max_output_bytes",
        "execution_root",
        "code_generator",
        "generators",
        "isolation",
        "env",
        "max_processes",
        "max_disk_mb",
        "keep",
    }
)


class ExecutorConfigError(ReplayCodegenError, ValueError):
    """A config value is invalid; the message names the key and how to fix it."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Everything the service reads from ``config``; each field has a documented default."""

    thread_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    execution_method: str = "local"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    execution_root: Path | None = None  # None: the service's own fresh private root
    approval_mode: ApprovalMode = DEFAULT_APPROVAL_MODE
    channels: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    isolation: Isolation = DEFAULT_ISOLATION
    env: Mapping[str, str] = field(default_factory=dict)
    max_processes: int = DEFAULT_MAX_PROCESSES
    max_disk_mb: int = DEFAULT_MAX_DISK_MB
    keep: int = DEFAULT_KEEP


def configurable_section(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The ``configurable`` mapping of ``config`` (empty when absent); the factory gets it."""
    if config is None:
        return {}
    _require_mapping(config, "config")
    configurable = config.get("configurable") or {}
    _require_mapping(configurable, "config['configurable']")
    return cast(Mapping[str, Any], configurable)


def parse_settings(config: Mapping[str, Any] | None) -> ExecutorSettings:
    """Read and validate ``config``; unknown ``execution`` keys are logged, not fatal."""
    configurable = configurable_section(config)
    execution = _section(configurable, "execution")
    approval = _section(configurable, "approval")
    control_system = _section(configurable, "control_system")

    unknown = sorted(set(execution) - _EXECUTION_KEYS)
    if unknown:
        logger.warning(
            "ignoring unknown execution settings %s; known: %s",
            unknown,
            ", ".join(sorted(_EXECUTION_KEYS)),
        )

    thread_id = (config or {}).get("thread_id")
    defaults = ExecutorSettings()
    return ExecutorSettings(
        thread_id=str(thread_id) if thread_id not in (None, "") else defaults.thread_id,
        execution_method=_execution_method(execution.get("execution_method", "local")),
        timeout_seconds=_positive_number(
            execution.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS), "timeout_seconds"
        ),
        memory_limit_mb=_memory_limit(execution.get("memory_limit_mb", DEFAULT_MEMORY_LIMIT_MB)),
        max_output_bytes=_positive_int(
            execution.get("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES), "max_output_bytes"
        ),
        execution_root=_execution_root(execution.get("execution_root")),
        approval_mode=_approval_mode(approval.get("mode", DEFAULT_APPROVAL_MODE)),
        channels=_channels(control_system.get("channels")),
        isolation=_isolation(execution.get("isolation", DEFAULT_ISOLATION)),
        env=_env(execution.get("env")),
        max_processes=_positive_int(
            execution.get("max_processes", DEFAULT_MAX_PROCESSES), "max_processes"
        ),
        max_disk_mb=_positive_int(execution.get("max_disk_mb", DEFAULT_MAX_DISK_MB), "max_disk_mb"),
        keep=_positive_int(execution.get("keep", DEFAULT_KEEP), "keep"),
    )


def _section(configurable: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = configurable.get(name) or {}
    _require_mapping(section, f"configurable.{name}")
    return cast(Mapping[str, Any], section)


def _require_mapping(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ExecutorConfigError(
            f"{where} must be a mapping, got {type(value).__name__}; "
            'fix: pass e.g. {"thread_id": "t1", "configurable": {"execution": {...}}}'
        )


def _execution_method(value: object) -> str:
    if value not in EXECUTION_METHODS:
        raise ExecutorConfigError(
            f"configurable.execution.execution_method={value!r} is not supported; "
            f"fix: use one of {', '.join(repr(m) for m in EXECUTION_METHODS)}"
        )
    return str(value)


def _positive_number(value: object, key: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ExecutorConfigError(
            f"configurable.execution.{key}={value!r} must be a positive number of seconds; "
            f"fix: e.g. {key}: 30"
        )
    return float(value)


def _positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ExecutorConfigError(
            f"configurable.execution.{key}={value!r} must be a positive integer; "
            f"fix: e.g. {key}: 1000000"
        )
    return value


def _memory_limit(value: object) -> int | None:
    if value is None:
        return None
    return _positive_int(value, "memory_limit_mb")


def _execution_root(value: object) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | Path) or str(value) == "":
        raise ExecutorConfigError(
            f"configurable.execution.execution_root={value!r} must be a directory path; "
            "fix: give a string such as '~/replaycodegen-executions'"
        )
    # Absolute but not resolved: a root that is itself a symlink must be seen (and refused).
    return Path(value).expanduser().absolute()


def _isolation(value: object) -> Isolation:
    return cast(Isolation, _choice(value, ISOLATIONS, "execution.isolation", "isolation"))


def _env(value: object) -> dict[str, str]:
    """``execution.env``: names copied from the service's environment, or name -> value."""
    if value is None:
        return {}
    where = "configurable.execution.env"
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = [(name, None) for name in value]
    else:
        raise ExecutorConfigError(
            f"{where}={value!r} must be a list of variable names or a mapping of names to "
            "values; fix: e.g. env: ['LD_LIBRARY_PATH'] or env: {'MY_SETTING': '1'}"
        )
    env: dict[str, str] = {}
    for name, given in pairs:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ExecutorConfigError(
                f"{where}: {name!r} is not an environment variable name; "
                "fix: use letters, digits and underscores"
            )
        if name.startswith("REPLAYCODEGEN_"):
            raise ExecutorConfigError(
                f"{where}: {name} is set by the executor itself; fix: remove it"
            )
        if given is None:
            if name in os.environ:
                env[name] = os.environ[name]
        elif isinstance(given, str):
            env[name] = given
        else:
            raise ExecutorConfigError(
                f"{where}[{name!r}]={given!r} must be a string; fix: quote it, e.g. '1'"
            )
    return env


def _approval_mode(value: object) -> ApprovalMode:
    return cast(ApprovalMode, _choice(value, APPROVAL_MODES, "approval.mode", "mode"))


def _choice(value: object, choices: tuple[str, ...], key: str, noun: str) -> str:
    if value not in choices:
        raise ExecutorConfigError(
            f"configurable.{key}={value!r} is not a known {noun}; "
            f"fix: use one of {', '.join(repr(c) for c in choices)}"
        )
    return str(value)


def _channels(value: object) -> dict[str, Any]:
    if value is None:
        return dict(DEFAULT_CHANNELS)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ExecutorConfigError(
            "configurable.control_system.channels must map channel names (strings) to "
            f"values, got {value!r}; fix: e.g. {{'BEAM:CURRENT': 500.0}}"
        )
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise ExecutorConfigError(
            f"configurable.control_system.channels has a value that is not JSON ({exc}); "
            "fix: use numbers, strings, booleans, lists or dicts"
        ) from exc
    return dict(value)
