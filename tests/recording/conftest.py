from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from replaycodegen import CodeGenerationError
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest, error_text


class ScriptedGenerator:
    """A stand-in for a real LLM: numbered answers, metadata like the OpenAI generator's."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls = 0
        self.fail_with = fail_with
        self.api_key = "sk-test-key-0123456789abcdefXYZ"

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        last = error_text(error_chain[-1]) if error_chain else "none"
        header = f"# call {self.calls} for {request.user_query} after {last}"
        return f"{header}\nresults = {{'n': {self.calls}}}\n"

    def get_generation_metadata(self) -> dict[str, Any]:
        return {
            "generator": "scripted",
            "provider": "test",
            "model": "scripted-1",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "raw_response": f"```python\ncall {self.calls}\n```",
            "prompt_sha256": "ab" * 32,
            "headers": {"authorization": "Bearer secret"},
        }


@pytest.fixture
def scripted() -> ScriptedGenerator:
    return ScriptedGenerator()


@pytest.fixture
def failing() -> ScriptedGenerator:
    return ScriptedGenerator(fail_with=CodeGenerationError("LLM returned empty code"))
