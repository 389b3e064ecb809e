"""replaycodegen: record LLM code generation once, replay it offline in CI."""

from __future__ import annotations

from replaycodegen.errors import (
    ApprovalRejected,
    ApprovalRequired,
    CassetteError,
    CassetteMiss,
    CodeGenerationError,
    CodeRuntimeError,
    CodeSyntaxError,
    PythonExecutorError,
    ReplayCodegenError,
)
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.models import ExecutionError, PythonExecutionRequest

__all__ = [
    "ApprovalRejected",
    "ApprovalRequired",
    "CassetteError",
    "CassetteMiss",
    "CodeGenerationError",
    "CodeGenerator",
    "CodeRuntimeError",
    "CodeSyntaxError",
    "ExecutionError",
    "PythonExecutionRequest",
    "PythonExecutorError",
    "ReplayCodegenError",
]
