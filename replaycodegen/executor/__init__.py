"""The executor: analyse generated code, ask for approval where needed, run it, retry.

It depends only on the models and the ``CodeGenerator`` protocol, never on cassettes.
"""

from __future__ import annotations

from replaycodegen.executor.analysis import (
    ChannelAccess,
    CodeAnalysis,
    RiskLevel,
    SecurityFinding,
    SyntaxIssue,
    analyze_code,
)
from replaycodegen.executor.config import ExecutorConfigError, ExecutorSettings, parse_settings
from replaycodegen.executor.results import (
    ChannelWrite,
    ExecutionResult,
    PythonServiceResult,
    RefusedChannelWrite,
)
from replaycodegen.executor.sandbox import SandboxUnavailable, SandboxWarning
from replaycodegen.executor.service import NoPendingApproval, PythonExecutorService

__all__ = [
    "ChannelAccess",
    "ChannelWrite",
    "CodeAnalysis",
    "ExecutionResult",
    "ExecutorConfigError",
    "ExecutorSettings",
    "NoPendingApproval",
    "PythonExecutorService",
    "PythonServiceResult",
    "RefusedChannelWrite",
    "RiskLevel",
    "SandboxUnavailable",
    "SandboxWarning",
    "SecurityFinding",
    "SyntaxIssue",
    "analyze_code",
    "parse_settings",
]
