"""Test helpers: a tiny scripted generator, and a look at what ran."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


class ScriptedGenerator:
    """Returns ``codes[i]`` on call ``i`` (the last one repeats); raises ``error`` if given."""

    def __init__(self, *codes: str, error: BaseException | None = None) -> None:
        self.codes = list(codes)
        self.error = error
        self.chains: list[list[ErrorChainItem]] = []

    @property
    def call_count(self) -> int:
        return len(self.chains)

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        self.chains.append(list(error_chain))
        if self.error is not None:
            raise self.error
        return self.codes[min(len(self.chains), len(self.codes)) - 1]

    def get_generation_metadata(self) -> dict[str, Any]:
        return {"generator": "scripted", "calls": self.call_count}


def execution_folders(root: Path) -> list[Path]:
    """The execution folders created under ``root`` so far (proof that something ran)."""
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
