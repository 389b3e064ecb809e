"""Every exception class a user can catch, under the module name Osprey users import from.

``from replaycodegen.exceptions import CodeRuntimeError`` gives the very class objects
that ``replaycodegen.errors`` defines and the library raises (aliases, not copies), so an
``except`` written against either module catches what the service, the generators and
the cassette loader raise. ``PythonExecutorException`` is Osprey's name for the base of
the pipeline errors, here ``PythonExecutorError``.

The classes defined elsewhere (``ExecutorConfigError``, ``NoPendingApproval``,
``LiveCallBlocked``, ``CassetteWarning``, ``BudgetExceeded``, ``WouldGoLive``,
``SandboxUnavailable``, ``SandboxWarning``) are imported
when first asked for (PEP 562), so importing this module costs no more than
``replaycodegen.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replaycodegen._lazy import lazy_exports
from replaycodegen.errors import (
    ApprovalRejected,
    ApprovalRequired,
    CassetteError,
    CassetteMiss,
    CodeGenerationError,
    CodeRuntimeError,
    CodeSyntaxError,
    ExecutionStorageError,
    PythonExecutorError,
    ReplayCodegenError,
)

if TYPE_CHECKING:
    from replaycodegen.cassette.loading.loader import CassetteWarning
    from replaycodegen.executor import (
        ExecutorConfigError,
        NoPendingApproval,
        SandboxUnavailable,
        SandboxWarning,
    )
    from replaycodegen.generation.budget import BudgetExceeded
    from replaycodegen.generation.recording import WouldGoLive
    from replaycodegen.guard import LiveCallBlocked

PythonExecutorException = PythonExecutorError
"""Osprey's name for the base of the pipeline errors (the same class)."""

_LAZY: dict[str, str] = {
    "BudgetExceeded": "replaycodegen.generation.budget",
    "CassetteWarning": "replaycodegen.cassette.loading.loader",
    "ExecutorConfigError": "replaycodegen.executor",
    "LiveCallBlocked": "replaycodegen.guard",
    "NoPendingApproval": "replaycodegen.executor",
    "SandboxUnavailable": "replaycodegen.executor",
    "SandboxWarning": "replaycodegen.executor",
    "WouldGoLive": "replaycodegen.generation.recording",
}

__all__ = [
    "ApprovalRejected",
    "ApprovalRequired",
    "BudgetExceeded",
    "CassetteError",
    "CassetteMiss",
    "CassetteWarning",
    "CodeGenerationError",
    "CodeRuntimeError",
    "CodeSyntaxError",
    "ExecutionStorageError",
    "ExecutorConfigError",
    "LiveCallBlocked",
    "NoPendingApproval",
    "PythonExecutorError",
    "PythonExecutorException",
    "ReplayCodegenError",
    "SandboxUnavailable",
    "SandboxWarning",
    "WouldGoLive",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
