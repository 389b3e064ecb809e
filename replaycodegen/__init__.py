"""replaycodegen: record LLM code generation once, replay it offline in CI."""

from __future__ import annotations

from replaycodegen.behaviors import BEHAVIORS
from replaycodegen.cassette import Cassette, Entry, Pattern
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
from replaycodegen.fingerprint import DEFAULT_MATCH_ON, fingerprint, normalize_error_text
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.loader import CassetteWarning, load_cassette, parse_cassette
from replaycodegen.models import ExecutionError, PythonExecutionRequest

__all__ = [
    "BEHAVIORS",
    "DEFAULT_MATCH_ON",
    "ApprovalRejected",
    "ApprovalRequired",
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteWarning",
    "CodeGenerationError",
    "CodeGenerator",
    "CodeRuntimeError",
    "CodeSyntaxError",
    "Entry",
    "ExecutionError",
    "MockCodeGenerator",
    "Pattern",
    "PythonExecutionRequest",
    "PythonExecutorError",
    "ReplayCodegenError",
    "fingerprint",
    "load_cassette",
    "normalize_error_text",
    "parse_cassette",
]
