"""What a generator remembers of each ``CassetteMiss`` it raised: the request and error chain
that missed, with the exception (its reason, key, closest entries). The pytest plugin
writes these to the miss ledger and the report."""

from __future__ import annotations

from dataclasses import dataclass

from replaycodegen.errors import CassetteMiss
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


@dataclass(frozen=True)
class MissedCall:
    request: PythonExecutionRequest
    error_chain: tuple[ErrorChainItem, ...]
    error: CassetteMiss
