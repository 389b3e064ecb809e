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
    (``control_system.json``), the outcome (``outcome.json``), the notebook
    (``notebook_path``) and the figures the code left open (``figure_paths``, PNG).
    """

    results: dict[str, Any]
    stdout: str
    execution_time: float
    folder_path: Path
    channel_writes: list[ChannelWrite] = field(default_factory=list)
    stderr: str = ""
    refused_channel_writes: list[RefusedChannelWrite] = field(default_factory=list)
    notebook_path: Path | None = None
    figure_paths: list[Path] = field(default_factory=list)

    @property
    def notebook_link(self) -> str | None:
        """The notebook as a ``file://`` URL (None when it could not be written)."""
        return self.notebook_path.absolute().as_uri() if self.notebook_path else None

    def to_dict(self) -> dict[str, Any]:
        """Osprey's keys: results, stdout, time, folder, notebook and figures."""
        return {
            "results": self.results,
            "execution_stdout": self.stdout,
            "execution_time_seconds": self.execution_time,
            "execution_folder": str(self.folder_path),
            "notebook_path": str(self.notebook_path) if self.notebook_path else None,
            "notebook_link": self.notebook_link,
            "figure_paths": [str(path) for path in self.figure_paths],
            "figure_count": len(self.figure_paths),
        }


@dataclass(frozen=True)
class PythonServiceResult:
    """The service's answer: the code that worked, on which attempt, and what failed before."""

    execution_result: ExecutionResult
    generated_code: str
    generation_attempt: int
    analysis_warnings: list[str] = field(default_factory=list)
    error_chain: list[ErrorChainItem] = field(default_factory=list)
