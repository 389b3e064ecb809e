"""Prompt builders for the freshness tests (``tests.lifecycle.freshness.builders:NAME``)."""

from __future__ import annotations

from collections.abc import Sequence

from replaycodegen import PromptBuilder
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


class BriefAboutBeams(PromptBuilder):
    """Changes the prompt of requests whose query mentions "beam", and only those."""

    version = "beams-2"

    def render_task(self, request: PythonExecutionRequest) -> str:
        text = super().render_task(request)
        return text + "\nBe brief." if "beam" in request.user_query.lower() else text


class LabelledErrors(PromptBuilder):
    """Changes how the error chain is rendered: only prompts with errors differ."""

    version = "errors-2"

    def render_errors(self, error_chain: Sequence[ErrorChainItem]) -> str:
        text = super().render_errors(error_chain)
        return text.replace("## Previous attempts failed", "## Earlier attempts") if text else ""


NOT_A_BUILDER = 42
