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
from replaycodegen.generation.extract import extract_code
from replaycodegen.generation.factory import create_code_generator
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.openai_generator import OpenAICodeGenerator
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.recording import RecordingCodeGenerator
from replaycodegen.guard import LiveCallBlocked, block_live_llm_calls
from replaycodegen.loader import CassetteWarning, load_cassette, parse_cassette
from replaycodegen.models import ExecutionError, PythonExecutionRequest
from replaycodegen.record_mode import RecordMode
from replaycodegen.scrub import Scrubber
from replaycodegen.store import CassetteStore

__all__ = [
    "BEHAVIORS",
    "DEFAULT_MATCH_ON",
    "ApprovalRejected",
    "ApprovalRequired",
    "Cassette",
    "CassetteError",
    "CassetteMiss",
    "CassetteStore",
    "CassetteWarning",
    "CodeGenerationError",
    "CodeGenerator",
    "CodeRuntimeError",
    "CodeSyntaxError",
    "Entry",
    "ExecutionError",
    "LiveCallBlocked",
    "MockCodeGenerator",
    "OpenAICodeGenerator",
    "Pattern",
    "PromptBuilder",
    "PythonExecutionRequest",
    "PythonExecutorError",
    "RecordMode",
    "RecordingCodeGenerator",
    "ReplayCodegenError",
    "Scrubber",
    "block_live_llm_calls",
    "create_code_generator",
    "extract_code",
    "fingerprint",
    "load_cassette",
    "normalize_error_text",
    "parse_cassette",
]
