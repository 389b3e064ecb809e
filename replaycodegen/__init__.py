"""replaycodegen: record LLM code generation once, replay it offline in CI.

Names are imported lazily (PEP 562), so ``import replaycodegen`` stays cheap: generated
code that only needs ``replaycodegen.runtime`` and the command line's ``--help`` do not pay
for pydantic, YAML or the executor. ``openai`` and ``vcrpy`` are never imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replaycodegen._lazy import lazy_exports

if TYPE_CHECKING:
    from replaycodegen.cassette.behaviors import BEHAVIORS
    from replaycodegen.cassette.keys import DEFAULT_MATCH_ON, fingerprint, normalize_error_text
    from replaycodegen.cassette.loading.loader import CassetteWarning, load_cassette, parse_cassette
    from replaycodegen.cassette.model import Cassette, Entry, Pattern
    from replaycodegen.cassette.scrub import Scrubber
    from replaycodegen.cassette.writing.rewrite import CassetteEdit
    from replaycodegen.cassette.writing.store import CassetteStore, rewrite_entries
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
    from replaycodegen.executor import (
        ChannelWrite,
        CodeAnalysis,
        ExecutionResult,
        ExecutorConfigError,
        NoPendingApproval,
        PythonExecutorService,
        PythonServiceResult,
        RefusedChannelWrite,
        SandboxUnavailable,
        analyze_code,
    )
    from replaycodegen.generation.budget import BudgetExceeded, RecordingBudget
    from replaycodegen.generation.extract import extract_code
    from replaycodegen.generation.factory import create_code_generator
    from replaycodegen.generation.mock import MockCodeGenerator
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator
    from replaycodegen.generation.prompt import PromptBuilder
    from replaycodegen.generation.protocol import CodeGenerator
    from replaycodegen.generation.record_mode import RecordMode
    from replaycodegen.generation.recording import RecordingCodeGenerator, WouldGoLive
    from replaycodegen.guard import LiveCallBlocked, block_live_llm_calls
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy
    from replaycodegen.models import (
        ExecutionError,
        PythonExecutionRequest,
        validate_result_structure,
    )

_EXPORTS: dict[str, str] = {
    "BEHAVIORS": "replaycodegen.cassette.behaviors",
    "Cassette": "replaycodegen.cassette.model",
    "Entry": "replaycodegen.cassette.model",
    "Pattern": "replaycodegen.cassette.model",
    "ApprovalRejected": "replaycodegen.errors",
    "ApprovalRequired": "replaycodegen.errors",
    "CassetteError": "replaycodegen.errors",
    "CassetteMiss": "replaycodegen.errors",
    "CodeGenerationError": "replaycodegen.errors",
    "CodeRuntimeError": "replaycodegen.errors",
    "CodeSyntaxError": "replaycodegen.errors",
    "ExecutionStorageError": "replaycodegen.errors",
    "PythonExecutorError": "replaycodegen.errors",
    "ReplayCodegenError": "replaycodegen.errors",
    "ChannelWrite": "replaycodegen.executor",
    "CodeAnalysis": "replaycodegen.executor",
    "ExecutionResult": "replaycodegen.executor",
    "ExecutorConfigError": "replaycodegen.executor",
    "NoPendingApproval": "replaycodegen.executor",
    "PythonExecutorService": "replaycodegen.executor",
    "PythonServiceResult": "replaycodegen.executor",
    "RefusedChannelWrite": "replaycodegen.executor",
    "SandboxUnavailable": "replaycodegen.executor",
    "analyze_code": "replaycodegen.executor",
    "DEFAULT_MATCH_ON": "replaycodegen.cassette.keys",
    "fingerprint": "replaycodegen.cassette.keys",
    "normalize_error_text": "replaycodegen.cassette.keys",
    "extract_code": "replaycodegen.generation.extract",
    "create_code_generator": "replaycodegen.generation.factory",
    "MockCodeGenerator": "replaycodegen.generation.mock",
    "OpenAICodeGenerator": "replaycodegen.generation.openai_generator",
    "PromptBuilder": "replaycodegen.generation.prompt",
    "CodeGenerator": "replaycodegen.generation.protocol",
    "RecordingCodeGenerator": "replaycodegen.generation.recording",
    "LiveCallBlocked": "replaycodegen.guard",
    "block_live_llm_calls": "replaycodegen.guard",
    "CassetteWarning": "replaycodegen.cassette.loading.loader",
    "load_cassette": "replaycodegen.cassette.loading.loader",
    "parse_cassette": "replaycodegen.cassette.loading.loader",
    "ExecutionError": "replaycodegen.models",
    "PythonExecutionRequest": "replaycodegen.models",
    "validate_result_structure": "replaycodegen.models",
    "RecordMode": "replaycodegen.generation.record_mode",
    "Scrubber": "replaycodegen.cassette.scrub",
    "CassetteStore": "replaycodegen.cassette.writing.store",
    "WouldGoLive": "replaycodegen.generation.recording",
    "BudgetExceeded": "replaycodegen.generation.budget",
    "RecordingBudget": "replaycodegen.generation.budget",
    "FreshnessPolicy": "replaycodegen.lifecycle.freshness.status",
    "rewrite_entries": "replaycodegen.cassette.writing.store",
    "CassetteEdit": "replaycodegen.cassette.writing.rewrite",
}

__all__ = [
    "BEHAVIORS",
    "DEFAULT_MATCH_ON",
    "ApprovalRejected",
    "ApprovalRequired",
    "BudgetExceeded",
    "Cassette",
    "CassetteEdit",
    "CassetteError",
    "CassetteMiss",
    "CassetteStore",
    "CassetteWarning",
    "ChannelWrite",
    "CodeAnalysis",
    "CodeGenerationError",
    "CodeGenerator",
    "CodeRuntimeError",
    "CodeSyntaxError",
    "Entry",
    "ExecutionError",
    "ExecutionResult",
    "ExecutionStorageError",
    "ExecutorConfigError",
    "FreshnessPolicy",
    "LiveCallBlocked",
    "MockCodeGenerator",
    "NoPendingApproval",
    "OpenAICodeGenerator",
    "Pattern",
    "PromptBuilder",
    "PythonExecutionRequest",
    "PythonExecutorError",
    "PythonExecutorService",
    "PythonServiceResult",
    "RecordMode",
    "RecordingBudget",
    "RecordingCodeGenerator",
    "RefusedChannelWrite",
    "ReplayCodegenError",
    "SandboxUnavailable",
    "Scrubber",
    "WouldGoLive",
    "analyze_code",
    "block_live_llm_calls",
    "create_code_generator",
    "extract_code",
    "fingerprint",
    "load_cassette",
    "normalize_error_text",
    "parse_cassette",
    "rewrite_entries",
    "validate_result_structure",
]
__version__ = "0.1.0"


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
