"""The one interface every generator implements: the executor depends on nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


@runtime_checkable
class CodeGenerator(Protocol):
    """Turns a request and the errors of earlier attempts into Python code."""

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        """Return Python code that stores its output in a dict named ``results``."""
        ...

    def get_generation_metadata(self) -> dict[str, Any]:
        """Describe the last generation (model, cassette entry, ...)."""
        ...
