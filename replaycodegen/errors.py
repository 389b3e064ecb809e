"""The exception hierarchy: one root, one branch for the pipeline, one for cassettes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replaycodegen.models import ErrorChainItem


class ReplayCodegenError(Exception):
    """Root of every error this package raises on purpose."""


class PythonExecutorError(ReplayCodegenError):
    """Base of the pipeline errors: generation, syntax, runtime, approval.

    ``error_chain`` holds every failure that led here (empty when raised directly
    by a generator).
    """

    def __init__(self, message: str, error_chain: Sequence[ErrorChainItem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_chain: list[ErrorChainItem] = list(error_chain or [])


class CodeGenerationError(PythonExecutorError):
    """The generator could not produce code (API failure, empty output, retries used up)."""


class CodeSyntaxError(PythonExecutorError):
    """The generated code does not parse, or static analysis refused it."""


class CodeRuntimeError(PythonExecutorError):
    """The generated code failed while running (exception, timeout, memory, no results)."""


class CassetteError(ReplayCodegenError, ValueError):
    """A cassette file cannot be read or written: says which file, which line, and the fix."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.hint = hint
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        text = f"{where}{self.reason}"
        if self.field:
            text += f" (field: {self.field})"
        if self.hint:
            text += f"; fix: {self.hint}"
        return text


class CassetteMiss(ReplayCodegenError, LookupError):
    """No cassette entry answers this request; the message explains why and how to fix it.

    Attributes: ``reason`` (``"no such cassette"``, ``"no match"``, ``"all matches already
    played"``), ``cassette_path``, ``key``, ``closest`` (entry ids) and ``fix``.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        cassette_path: str | None,
        key: str | None = None,
        closest: Sequence[str] = (),
        fix: str = "",
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.cassette_path = cassette_path
        self.key = key
        self.closest = list(closest)
        self.fix = fix
        self.details = details

    def __str__(self) -> str:
        return str(self.args[0])


class ApprovalRequired(PythonExecutorError):
    """The code needs a human decision before it runs; resume with ``service.aresume``.

    Attributes: ``thread_id``, ``code``, ``analysis`` (the static analysis of ``code``)
    and ``reasons`` (why approval is needed, one line each).
    """

    def __init__(
        self,
        message: str,
        *,
        thread_id: str,
        code: str,
        analysis: Any,
        reasons: Sequence[str],
        error_chain: Sequence[ErrorChainItem] | None = None,
    ) -> None:
        super().__init__(message, error_chain)
        self.thread_id = thread_id
        self.code = code
        self.analysis = analysis
        self.reasons = list(reasons)


class ApprovalRejected(PythonExecutorError):
    """A human rejected the code; nothing was executed."""


class ExecutionStorageError(PythonExecutorError):
    """The service could not write an execution folder's files (a full disk, a read-only
    file system): the message names the path and the fix; ``path`` holds it."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        error_chain: Sequence[ErrorChainItem] | None = None,
    ) -> None:
        super().__init__(message, error_chain)
        self.path = path
