"""PromptBuilder: what reaches the prompt, the fingerprint, and overriding it."""

from __future__ import annotations

from typing import Any

from replaycodegen.generation.prompt import PromptBuilder, summarise_value
from replaycodegen.models import ExecutionError, PythonExecutionRequest


def _request(**overrides: Any) -> PythonExecutionRequest:
    fields: dict[str, Any] = {
        "user_query": "Average beam current over the last hour",
        "task_objective": "Compute the mean beam current",
        "execution_folder_name": "beam",
        "expected_results": {"mean": "float, mA"},
        "capability_prompts": ["Use read_channel(name) to read a PV history."],
        "capability_context_data": {
            "channels": ["BEAM:CURRENT", "BEAM:ENERGY"],
            "window": {"start": "10:00", "end": "11:00"},
            "samples": list(range(1000)),
        },
    }
    fields.update(overrides)
    return PythonExecutionRequest(**fields)


def _user_text(messages: list[dict[str, Any]]) -> str:
    return str(messages[-1]["content"])


def test_messages_are_system_then_user() -> None:
    messages = PromptBuilder().build(_request(), [])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "`results`" in messages[0]["content"]
    assert "Python" in messages[0]["content"]


def test_request_fields_reach_the_prompt() -> None:
    text = _user_text(PromptBuilder().build(_request(), []))
    assert "Average beam current over the last hour" in text
    assert "Compute the mean beam current" in text
    assert '"mean": "float, mA"' in text
    assert "Use read_channel(name) to read a PV history." in text
    assert "channels: list of 2 items" in text
    assert "window: dict with 2 keys (start, end)" in text
    assert "Previous attempts" not in text


def test_context_data_is_summarised_not_dumped() -> None:
    text = _user_text(PromptBuilder().build(_request(), []))
    assert "samples: list of 1000 items; first: 0" in text
    assert "999" not in text


def test_error_chain_is_rendered_with_to_prompt_text_and_strings_as_is() -> None:
    error = ExecutionError(
        error_type="ZeroDivisionError",
        error_message="division by zero",
        failed_code="results = {'v': 1 / 0}",
        attempt_number=1,
        stage="execution",
    )
    plain = "NameError: name 'statistics' is not defined"
    text = _user_text(PromptBuilder().build(_request(), [error, plain]))
    assert error.to_prompt_text() in text
    assert plain in text
    assert text.index("ZeroDivisionError") < text.index("NameError")
    assert "2 shown" in text


def test_empty_optional_sections_are_left_out() -> None:
    request = _request(expected_results={}, capability_prompts=[], capability_context_data=None)
    text = _user_text(PromptBuilder().build(request, []))
    assert "Expected results" not in text
    assert "Capabilities" not in text
    assert "Context data" not in text


def test_fingerprint_is_sha256_of_canonical_json() -> None:
    builder = PromptBuilder()
    messages = builder.build(_request(), [])
    reordered = [{"content": m["content"], "role": m["role"]} for m in messages]
    digest = builder.fingerprint(messages)
    assert len(digest) == 64
    assert builder.fingerprint(reordered) == digest
    assert builder.fingerprint(builder.build(_request(user_query="other"), [])) != digest


def test_unsortable_or_odd_values_do_not_break_the_prompt() -> None:
    request = _request(
        expected_results={"a": {1: "x", "b": "y"}}, capability_context_data={"s": {3}}
    )
    text = _user_text(PromptBuilder().build(request, []))
    assert "s: set of 1 items; first: 3" in text


def test_summarise_value_scalars_and_long_strings() -> None:
    assert summarise_value(3.5) == "float: 3.5"
    assert summarise_value("x" * 500).startswith("str of 500 chars: ")
    assert summarise_value("x" * 500).endswith("(502 chars)")


def test_subclass_overrides_wording_and_version() -> None:
    class TersePrompt(PromptBuilder):
        version = "terse-1"
        system_prompt = "Only code. Output in `results`."

        def render_capabilities(self, prompts: Any) -> str:
            return ""

    messages = TersePrompt().build(_request(), [])
    assert TersePrompt.version == "terse-1"
    assert messages[0]["content"] == "Only code. Output in `results`."
    assert "read_channel" not in _user_text(messages)
