from __future__ import annotations

import pytest
from pydantic import ValidationError

import replaycodegen
from replaycodegen import (
    CodeGenerationError,
    CodeRuntimeError,
    CodeSyntaxError,
    ExecutionError,
    PythonExecutionRequest,
    PythonExecutorError,
)


def test_request_defaults_and_extra_fields_ignored() -> None:
    request = PythonExecutionRequest(
        user_query="q", task_objective="o", execution_folder_name="f", unknown_field=1
    )
    assert request.expected_results == {}
    assert request.capability_prompts == []
    assert request.retries == 3
    assert request.capability_context_data is None
    assert request.session_context is None
    assert request.execution_folder_path is None
    assert not hasattr(request, "unknown_field")


def test_request_requires_the_three_fields() -> None:
    with pytest.raises(ValidationError):
        PythonExecutionRequest(user_query="q", task_objective="o")  # type: ignore[call-arg]


def test_request_equality_is_field_wise() -> None:
    a = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")
    b = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")
    assert a == b
    assert a != b.model_copy(update={"user_query": "other"})


def test_execution_error_defaults() -> None:
    error = ExecutionError(error_type="ValueError", error_message="bad")
    assert error.failed_code is None
    assert error.traceback is None
    assert error.attempt_number == 1
    assert error.stage == ""
    assert error.analysis_issues == []


def test_to_prompt_text_renders_every_part() -> None:
    error = ExecutionError(
        error_type="ZeroDivisionError",
        error_message="division by zero",
        failed_code="results = 1 / 0",
        traceback="Traceback ...",
        attempt_number=2,
        stage="execution",
        analysis_issues=["no results assigned"],
    )
    assert error.to_prompt_text() == (
        "**Attempt 2 - EXECUTION FAILED**\n"
        "\n"
        "**Code that failed:**\n"
        "```python\n"
        "results = 1 / 0\n"
        "```\n"
        "\n"
        "**Error Type:** ZeroDivisionError\n"
        "**Error:** division by zero\n"
        "\n"
        "**Issues Found:**\n"
        "  - no results assigned\n"
        "\n"
        "**Traceback:**\n"
        "```\n"
        "Traceback ...\n"
        "```"
    )


def test_to_prompt_text_cuts_long_traceback_in_the_middle() -> None:
    traceback = "HEAD" + "x" * 5000 + "TAIL"
    text = ExecutionError("E", "m", traceback=traceback).to_prompt_text()
    assert "HEAD" in text and "TAIL" in text
    assert "\n... (truncated) ...\n" in text
    assert len(text) < 1200


def test_exceptions_share_one_base() -> None:
    for cls in (CodeGenerationError, CodeSyntaxError, CodeRuntimeError):
        assert issubclass(cls, PythonExecutorError)
        assert issubclass(cls, replaycodegen.ReplayCodegenError)
    error = CodeRuntimeError("boom", ["e1"])
    assert error.error_chain == ["e1"]
    assert issubclass(replaycodegen.CassetteMiss, LookupError)


def test_code_generator_protocol_importable_from_both_places() -> None:
    from replaycodegen import CodeGenerator
    from replaycodegen.generation import CodeGenerator as FromGeneration
    from replaycodegen.generation import MockCodeGenerator

    assert CodeGenerator is FromGeneration
    assert isinstance(MockCodeGenerator(), CodeGenerator)
    assert not isinstance(object(), CodeGenerator)


def test_public_api_is_declared() -> None:
    for name in replaycodegen.__all__:
        assert hasattr(replaycodegen, name), name


def test_lazy_exports_cover_all_and_keep_import_light() -> None:
    import subprocess
    import sys

    assert sorted(replaycodegen.__all__) == sorted(replaycodegen._EXPORTS)
    code = (
        "import sys, replaycodegen, replaycodegen.runtime\n"
        "heavy = [m for m in ('pydantic', 'yaml', 'openai', 'vcr') if m in sys.modules]\n"
        "from replaycodegen import MockCodeGenerator, PythonExecutorService\n"
        "print(heavy, 'openai' in sys.modules, 'vcr' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False False"
