"""The executor service: generate -> analyse -> (approve) -> execute, retrying with the errors.

Every failed attempt becomes an ``ExecutionError`` in the error chain, and the generator
sees the whole chain when it writes the next attempt. Code that needs a human decision
stops the loop with ``ApprovalRequired``; ``aresume`` continues it from there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen import generation
from replaycodegen.errors import (
    ApprovalRejected,
    ApprovalRequired,
    CodeGenerationError,
    CodeRuntimeError,
    CodeSyntaxError,
    ExecutionStorageError,
    PythonExecutorError,
    ReplayCodegenError,
)
from replaycodegen.executor.analysis import CodeAnalysis, analyze_code, iter_issue_lines
from replaycodegen.executor.config import ExecutorSettings, parse_settings
from replaycodegen.executor.folders import (
    create_execution_folder,
    ensure_private_root,
    new_private_root,
    prune,
)
from replaycodegen.executor.results import ExecutionResult, PythonServiceResult
from replaycodegen.executor.runner import RunLimits, run_code
from replaycodegen.executor.sandbox import resolve_isolation
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.models import ErrorChainItem, ExecutionError, PythonExecutionRequest, error_text

__all__ = ["NoPendingApproval", "PythonExecutorService", "approval_reasons"]

logger = logging.getLogger("replaycodegen.executor")

_FINAL_ERRORS: dict[str, type[PythonExecutorError]] = {
    "generation": CodeGenerationError,
    "analysis": CodeSyntaxError,
    "execution": CodeRuntimeError,
}


class NoPendingApproval(PythonExecutorError, LookupError):
    """``aresume`` was called for a thread that has no code waiting for approval."""


@dataclass
class _Run:
    """The state of one request across attempts (and across an approval pause)."""

    request: PythonExecutionRequest
    settings: ExecutorSettings
    generator: CodeGenerator
    error_chain: list[ErrorChainItem] = field(default_factory=list)
    attempt: int = 0

    @property
    def max_attempts(self) -> int:
        return max(1, self.request.retries)

    def record(self, error: ExecutionError) -> None:
        logger.info(
            "attempt %d failed at %s: %s", error.attempt_number, error.stage, error_text(error)
        )
        self.error_chain.append(error)


@dataclass(frozen=True)
class _PendingApproval:
    run: _Run
    code: str
    analysis: CodeAnalysis


def approval_reasons(mode: str, analysis: CodeAnalysis) -> list[str]:
    """Why ``analysis``'s code needs approval under ``mode``; empty when it does not."""
    if mode == "disabled":
        return []
    reasons = [f"control-system write at {access}" for access in analysis.channel_writes]
    if mode == "all_code":
        reasons.insert(0, "approval.mode is 'all_code': every piece of code needs approval")
    return reasons


class PythonExecutorService:
    """Generates, checks, approves and runs Python code for a request.

    ``generator``: use this generator; without it, each ``ainvoke`` asks
    ``replaycodegen.generation.create_code_generator(config)`` for one (looked up at call
    time, so patching the factory works). ``execution_root``: where execution folders go
    when the config names none (default: a fresh private temp directory per service).
    """

    def __init__(
        self,
        generator: CodeGenerator | None = None,
        *,
        execution_root: str | Path | None = None,
    ) -> None:
        self._generator = generator
        self._pending: dict[str, _PendingApproval] = {}
        self._default_root = Path(execution_root).absolute() if execution_root else None
        self._private_root: Path | None = None
        self._failed_folders: set[Path] = set()

    @property
    def pending_approvals(self) -> list[str]:
        """Thread ids whose code waits for ``aresume``."""
        return list(self._pending)

    async def ainvoke(
        self, request: PythonExecutionRequest, config: Mapping[str, Any] | None = None
    ) -> PythonServiceResult:
        """Run ``request`` to a result, or raise after ``request.retries`` failed attempts.

        Raises ``ApprovalRequired`` when the code needs a human decision (see ``aresume``);
        ``CodeGenerationError``, ``CodeSyntaxError`` or ``CodeRuntimeError`` (by the stage of
        the last failure, with ``.error_chain``) when every attempt failed. Errors raised by
        the generator itself (``CassetteMiss``, ...) propagate unchanged.
        """
        settings = parse_settings(config)
        if settings.isolation == "sandbox":
            resolve_isolation("sandbox")  # refuse before generating anything
        # Looked up on the module at call time, so patching the factory takes effect.
        generator = self._generator or generation.create_code_generator(config or {})
        if self._pending.pop(settings.thread_id, None) is not None:
            logger.warning(
                "thread %r: abandoning code that was waiting for approval", settings.thread_id
            )
        return await self._attempt_until_done(_Run(request, settings, generator))

    async def aresume(self, thread_id: str, *, approved: bool) -> PythonServiceResult:
        """Decide on the code waiting on ``thread_id``: run it, or reject it.

        ``approved=True`` executes it and returns the result; if it fails, the loop goes on
        (a regenerated write needs approval again). ``approved=False`` raises
        ``ApprovalRejected`` and runs nothing.
        """
        pending = self._pending.pop(thread_id, None)
        if pending is None:
            waiting = ", ".join(repr(t) for t in self._pending) or "none"
            raise NoPendingApproval(
                f"no code is waiting for approval on thread {thread_id!r} (waiting: {waiting}); "
                "call aresume only after ainvoke raised ApprovalRequired, once per approval"
            )
        run = pending.run
        if not approved:
            raise ApprovalRejected(
                f"thread {thread_id!r}: the code of attempt {run.attempt} was rejected and "
                "not executed",
                run.error_chain,
            )
        result = await self._execute(run, pending.code, pending.analysis, writes_allowed=True)
        if result is not None:
            return result
        return await self._attempt_until_done(run)

    async def _attempt_until_done(self, run: _Run) -> PythonServiceResult:
        while run.attempt < run.max_attempts:
            run.attempt += 1
            code = await self._generate(run)
            if code is None:
                continue
            analysis = analyze_code(code)
            if analysis.syntax_error is not None or analysis.is_high_risk:
                run.record(_analysis_error(code, analysis, run.attempt))
                continue
            reasons = approval_reasons(run.settings.approval_mode, analysis)
            if reasons:
                self._pending[run.settings.thread_id] = _PendingApproval(run, code, analysis)
                raise _approval_required(run, code, analysis, reasons)
            writes_allowed = run.settings.approval_mode == "disabled"
            result = await self._execute(run, code, analysis, writes_allowed=writes_allowed)
            if result is not None:
                return result
        raise _final_error(run)

    async def _generate(self, run: _Run) -> str | None:
        """The generator's code, or None after recording why it is unusable."""
        try:
            code: object = await run.generator.generate_code(run.request, list(run.error_chain))
        except ReplayCodegenError as exc:
            if isinstance(exc, PythonExecutorError) and not exc.error_chain:
                exc.error_chain = list(run.error_chain)
            raise
        except Exception as exc:
            raise CodeGenerationError(
                f"the code generator {type(run.generator).__name__} failed on attempt "
                f"{run.attempt}: {type(exc).__name__}: {exc}",
                run.error_chain,
            ) from exc
        if isinstance(code, str) and code.strip():
            return code
        problem = (
            "returned empty code" if isinstance(code, str) else f"returned {type(code).__name__}"
        )
        run.record(
            ExecutionError(
                error_type="EmptyCode",
                error_message=f"EmptyCode: the generator {problem}; it must return Python source",
                failed_code=code if isinstance(code, str) else None,
                attempt_number=run.attempt,
                stage="generation",
            )
        )
        return None

    async def _execute(
        self, run: _Run, code: str, analysis: CodeAnalysis, *, writes_allowed: bool
    ) -> PythonServiceResult | None:
        """Run approved code; the result, or None after recording the failure."""
        settings = run.settings
        try:
            root = self._root(settings)
            folder = create_execution_folder(
                root, f"{run.request.execution_folder_name}-attempt{run.attempt}"
            )
            outcome = await run_code(
                code,
                folder,
                limits=RunLimits(
                    timeout_seconds=settings.timeout_seconds,
                    memory_limit_mb=settings.memory_limit_mb,
                    max_output_bytes=settings.max_output_bytes,
                    max_processes=settings.max_processes,
                    max_disk_mb=settings.max_disk_mb,
                ),
                channels=settings.channels,
                writes_allowed=writes_allowed,
                isolation=settings.isolation,
                env=settings.env,
            )
        except ExecutionStorageError as exc:
            exc.error_chain = list(run.error_chain)
            raise
        failed = outcome.failure is not None or outcome.results is None
        if failed:
            self._failed_folders.add(folder)
        self._prune(root, settings.keep)
        if failed:
            failure = outcome.failure
            run.record(
                ExecutionError(
                    error_type=failure.error_type if failure else "ExecutionError",
                    error_message=failure.message if failure else "ExecutionError: no results",
                    failed_code=code,
                    traceback=failure.traceback if failure else None,
                    attempt_number=run.attempt,
                    stage="execution",
                    analysis_issues=analysis.all_warnings(),
                )
            )
            return None
        assert outcome.results is not None
        return PythonServiceResult(
            execution_result=ExecutionResult(
                results=outcome.results,
                stdout=outcome.stdout,
                execution_time=outcome.execution_time,
                folder_path=outcome.folder,
                channel_writes=outcome.channel_writes,
                stderr=outcome.stderr,
                refused_channel_writes=outcome.refused_channel_writes,
                notebook_path=outcome.notebook_path,
                figure_paths=outcome.figure_paths,
            ),
            generated_code=code,
            generation_attempt=run.attempt,
            analysis_warnings=analysis.all_warnings(),
            error_chain=list(run.error_chain),
        )

    def _root(self, settings: ExecutorSettings) -> Path:
        """The private root this execution's folder goes under."""
        if settings.execution_root is not None:
            return ensure_private_root(settings.execution_root)
        if self._default_root is not None:
            return ensure_private_root(self._default_root)
        if self._private_root is None:
            self._private_root = new_private_root()
        return self._private_root

    def _prune(self, root: Path, keep: int) -> None:
        try:
            prune(root, keep, protected=self._failed_folders)
        except OSError as exc:
            logger.warning("could not prune old execution folders in %s: %s", root, exc)


def _analysis_error(code: str, analysis: CodeAnalysis, attempt: int) -> ExecutionError:
    issues = list(iter_issue_lines(analysis))
    if analysis.syntax_error is not None:
        error_type = analysis.syntax_error.error_type
        message = str(analysis.syntax_error)
    else:
        error_type = "SecurityRisk"
        message = "SecurityRisk: refused to run high-risk code: " + "; ".join(issues)
    return ExecutionError(
        error_type=error_type,
        error_message=message,
        failed_code=code,
        attempt_number=attempt,
        stage="analysis",
        analysis_issues=issues + list(analysis.all_warnings()),
    )


def _approval_required(
    run: _Run, code: str, analysis: CodeAnalysis, reasons: list[str]
) -> ApprovalRequired:
    thread_id = run.settings.thread_id
    return ApprovalRequired(
        f"thread {thread_id!r}, attempt {run.attempt}: approval required ("
        + "; ".join(reasons)
        + f"). Review .code and .analysis, then call "
        f"`await service.aresume({thread_id!r}, approved=True)` to run it, or "
        "approved=False to reject it.",
        thread_id=thread_id,
        code=code,
        analysis=analysis,
        reasons=reasons,
        error_chain=run.error_chain,
    )


def _final_error(run: _Run) -> PythonExecutorError:
    last = run.error_chain[-1]
    stage = last.stage if isinstance(last, ExecutionError) else "execution"
    error_class = _FINAL_ERRORS.get(stage, CodeRuntimeError)
    attempts = f"{run.attempt} attempt" + ("s" if run.attempt != 1 else "")
    return error_class(
        f"{run.request.execution_folder_name!r} failed after {attempts}; last failure "
        f"({stage}, attempt {run.attempt}): {error_text(last)}. "
        "See .error_chain for every attempt; raise request.retries or fix the generator.",
        run.error_chain,
    )
