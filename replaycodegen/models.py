"""The request and error models shared by generators, cassettes and the executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TRACEBACK_LIMIT = 1000


class PythonExecutionRequest(BaseModel):
    """What the pipeline is asked to do; the generator turns it into code.

    Unknown fields are ignored, so requests built for a richer service still validate.
    """

    model_config = ConfigDict(extra="ignore")

    user_query: str
    task_objective: str
    execution_folder_name: str
    expected_results: dict[str, Any] = Field(default_factory=dict)
    capability_prompts: list[str] = Field(default_factory=list)
    retries: int = 3
    capability_context_data: dict[str, Any] | None = None
    session_context: dict[str, Any] | None = None
    execution_folder_path: str | None = None


@dataclass
class ExecutionError:
    """One failed attempt, as fed back to the generator in the error chain."""

    error_type: str
    error_message: str
    failed_code: str | None = None
    traceback: str | None = None
    attempt_number: int = 1
    stage: str = ""
    analysis_issues: list[str] = field(default_factory=list)

    def to_prompt_text(self) -> str:
        """Render this error for an LLM prompt; an over-long traceback is cut in the middle."""
        stage = (self.stage or "execution").upper()
        parts = [f"Attempt {self.attempt_number} - {stage} FAILED"]
        if self.failed_code:
            parts.append(f"Code that failed:\n```python\n{self.failed_code.rstrip()}\n```")
        parts.append(f"Error type: {self.error_type}")
        parts.append(f"Error message: {self.error_message}")
        if self.analysis_issues:
            parts.append("Issues found:\n" + "\n".join(f"- {i}" for i in self.analysis_issues))
        if self.traceback:
            parts.append("Traceback:\n" + _cut_middle(self.traceback, TRACEBACK_LIMIT))
        return "\n\n".join(parts)


def _cut_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    omitted = len(text) - 2 * half
    return f"{text[:half]}\n... [{omitted} characters omitted] ...\n{text[-half:]}"


ErrorChainItem = ExecutionError | str
"""An error chain holds ``ExecutionError`` objects or plain strings; both work everywhere."""


def error_text(item: ErrorChainItem) -> str:
    """The human text of one chain item: ``"Type: message"`` or the string itself."""
    if isinstance(item, str):
        return item
    if item.error_type and not item.error_message.startswith(item.error_type):
        return f"{item.error_type}: {item.error_message}"
    return item.error_message
