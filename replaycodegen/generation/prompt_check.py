"""Re-rendering the prompt of a stored entry, to tell whether the prompt builder changed it.

A cassette stores the keyed request fields and, per error of the chain, only its type,
stage and message: not the failed code, the traceback or the analysis findings that the
live prompt held. So the prompt is rendered from what is stored, with each error rebuilt as
``ExecutionError(type, message, stage=stage, attempt_number=position)`` (a plain-string
error stays a string). When that rendering is not the prompt the generator actually sent
(an entry with an error chain, or a ``match_on`` without every prompt field), the recorder
also stores ``meta.prompt_check_sha256``: the digest of the rendering from stored data at
recording time, which is what a later check compares with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from replaycodegen.cassette.model import RecordedError
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.models import ErrorChainItem, ExecutionError, PythonExecutionRequest

DEFAULT_MAX_ERRORS_IN_PROMPT = 3
"""``OpenAICodeGenerator``'s default: only the last 3 errors reach the prompt."""


def stored_chain(errors: Sequence[RecordedError]) -> list[ErrorChainItem]:
    """The error chain rebuilt from what a cassette stores (type, stage, message)."""
    chain: list[ErrorChainItem] = []
    for position, error in enumerate(errors, 1):
        if not error.type and not error.stage:
            chain.append(error.message)
        else:
            chain.append(ExecutionError(error_type=error.type, error_message=error.message,
                                        stage=error.stage, attempt_number=position))
    return chain


def stored_prompt_sha256(
    builder: PromptBuilder,
    fields: Mapping[str, Any],
    errors: Sequence[RecordedError],
    max_errors_in_prompt: int | None = DEFAULT_MAX_ERRORS_IN_PROMPT,
) -> str | None:
    """The digest of the prompt ``builder`` renders from stored request fields and errors;
    ``None`` when they do not make a request (``user_query`` or ``task_objective`` not
    stored) or the builder fails on them."""
    try:
        request = PythonExecutionRequest(
            **{"execution_folder_name": "replaycodegen-status", **dict(fields)}
        )
    except (TypeError, ValueError):
        return None
    chain = stored_chain(errors)
    if max_errors_in_prompt is not None:
        chain = chain[-max_errors_in_prompt:] if max_errors_in_prompt else []
    try:
        return builder.fingerprint(builder.build(request, chain))
    except Exception:  # a user's builder: a failure means "cannot tell", not a crash
        return None
