"""The chat prompt sent to an LLM: built from the request and the errors of earlier attempts.

Subclass :class:`PromptBuilder` to change the wording; bump ``version`` whenever the
output changes, so recorded metadata tells prompts apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

SYSTEM_PROMPT = """\
You are an expert Python programmer. You write one self-contained Python script that \
accomplishes the task you are given.

Rules:
- Reply with Python code only, in a single ```python fenced block, without explanations.
- Store the final output in a dict named `results`, e.g. `results = {"mean": 1.5}`; \
its values must be JSON-serialisable.
- Import every module you use.
- When an earlier attempt failed, fix the cause of the error instead of repeating the code."""

CONTEXT_KEYS_SHOWN = 30
PREVIEW_CHARS = 200


class PromptBuilder:
    """Turns a request and its error chain into chat messages (``[{"role", "content"}]``)."""

    version: ClassVar[str] = "2"
    """Bumped whenever the messages change. 2: errors rendered as Osprey renders them
    (``ExecutionError.to_prompt_text``: ``**Attempt N - STAGE FAILED**`` ...)."""
    system_prompt: ClassVar[str] = SYSTEM_PROMPT

    def build(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> list[dict[str, Any]]:
        """The messages for one generation: a system message, then one user message."""
        sections = [
            self.render_task(request),
            self.render_expected_results(request.expected_results),
            self.render_capabilities(request.capability_prompts),
            self.render_context_data(request.capability_context_data),
            self.render_errors(error_chain),
            "Write the Python code now.",
        ]
        user = "\n\n".join(section for section in sections if section)
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
        ]

    @staticmethod
    def fingerprint(messages: Sequence[Mapping[str, Any]]) -> str:
        """sha256 (hex) of the messages as canonical JSON: equal prompts, equal digests."""
        canonical = json.dumps(
            list(messages), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def render_task(self, request: PythonExecutionRequest) -> str:
        return f"## Task\nUser query: {request.user_query}\nObjective: {request.task_objective}"

    def render_expected_results(self, expected: Mapping[str, Any]) -> str:
        if not expected:
            return ""
        shown = _json(expected, indent=2)
        return (
            "## Expected results\n"
            "The `results` dict must contain these keys (values describe or exemplify them):\n"
            f"{shown}"
        )

    def render_capabilities(self, prompts: Sequence[str]) -> str:
        texts = [p.strip() for p in prompts if p.strip()]
        if not texts:
            return ""
        return "## Capabilities and guidance\n" + "\n\n".join(texts)

    def render_context_data(self, data: Mapping[str, Any] | None) -> str:
        if not data:
            return ""
        keys = list(data)
        lines = [f"- {key}: {summarise_value(data[key])}" for key in keys[:CONTEXT_KEYS_SHOWN]]
        if len(keys) > CONTEXT_KEYS_SHOWN:
            lines.append(f"- ... and {len(keys) - CONTEXT_KEYS_SHOWN} more keys")
        return "## Context data available (summary)\n" + "\n".join(lines)

    def render_errors(self, error_chain: Sequence[ErrorChainItem]) -> str:
        if not error_chain:
            return ""
        rendered = [
            item if isinstance(item, str) else item.to_prompt_text() for item in error_chain
        ]
        return (
            f"## Previous attempts failed ({len(rendered)} shown, most recent last)\n"
            + "\n\n---\n\n".join(rendered)
            + "\n\nFix these errors in your new code."
        )


def summarise_value(value: Any) -> str:
    """A short, deterministic description of one context value: type, size and a preview."""
    if isinstance(value, Mapping):
        keys = ", ".join(str(k) for k in list(value)[:10])
        more = ", ..." if len(value) > 10 else ""
        return f"dict with {len(value)} keys ({keys}{more})"
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        first = f"; first: {_preview(items[0])}" if items else ""
        return f"{type(value).__name__} of {len(items)} items{first}"
    if isinstance(value, str):
        return f"str of {len(value)} chars: {_preview(value)}"
    return f"{type(value).__name__}: {_preview(value)}"


def _json(value: Any, indent: int | None = None) -> str:
    try:
        return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # unsortable keys, circular references
        return repr(value)


def _preview(value: Any) -> str:
    text = _json(value)
    if len(text) > PREVIEW_CHARS:
        return text[:PREVIEW_CHARS] + f"... ({len(text)} chars)"
    return text
