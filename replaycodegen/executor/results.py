"""What a successful run of the service returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen.models import ErrorChainItem

__all__ = ["ChannelWrite", "ExecutionResult", "PythonServiceResult", "RefusedChannelWrite"]


@dataclass(frozen=True)
class ChannelWrite:
    """One ``write_channel`` the code performed on the simulated control system."""

    channel: str
    value: Any
    previous: Any


@dataclass(frozen=True)
class RefusedChannelWrite:
    """A write the service refused (the code was not approved for writes): nothing changed."""

    channel: str
    value: Any


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of running the code: its ``results`` dict and what it printed.

    ``folder_path`` keeps the code (``generated_code.py``), the final channel state
    (``control_system.json``) and the raw outcome (``outcome.json``) for inspection.
    """

    results: dict[str, Any]
    stdout: str
    execution_time: float
    folder_path: Path
    channel_writes: list[ChannelWrite] = field(default_factory=list)
    stderr: str = ""
    refused_channel_writes: list[RefusedChannelWrite] = field(default_factory=list)


@dataclass(frozen=True)
class PythonServiceResult:
    """The service's answer: the code that worked, on which attempt, and what failed before."""

    execution_result: ExecutionResult
    generated_code: str
    generation_attempt: int
    analysis_warnings: list[str] = field(default_factory=list)
    error_chain: list[ErrorChainItem] = field(default_factory=list)
