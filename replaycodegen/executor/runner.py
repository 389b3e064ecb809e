"""Run code locally in a fresh folder: under bubblewrap (``sandbox``) or as a bare child
process (``process``), bounded in time, memory, processes, output and disk.

The code talks to the simulated control system only over a socket pair whose other end
this module serves (``channel``); its outcome comes back the same way. After the run the
service writes the folder's record (``control_system.json``, ``outcome.json``, the
notebook) itself, through the folder's descriptor (``folders.FolderFiles``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen.executor import bootstrap
from replaycodegen.executor.channel import ChannelSession, ControlSystem, serve_channel
from replaycodegen.executor.config import DEFAULT_MAX_DISK_MB, DEFAULT_MAX_PROCESSES, Isolation
from replaycodegen.executor.environment import child_environment
from replaycodegen.executor.folders import COMPLETION_MARKER, FolderFiles, create_execution_folder
from replaycodegen.executor.mplcache import seed_matplotlib
from replaycodegen.executor.notebook import (
    NOTEBOOK_NAME,
    NotebookContent,
    preload,
    render_notebook,
)
from replaycodegen.executor.outcome import RunFailure, classify
from replaycodegen.executor.results import ChannelWrite, RefusedChannelWrite
from replaycodegen.executor.sandbox import (
    LaunchSpec,
    ProcessLimits,
    ProcessReport,
    SandboxLayout,
    bwrap_command,
    group_text,
    passwd_text,
    resolve_isolation,
    run_process,
    sandbox_status,
)
from replaycodegen.runtime import STATE_FILE_NAME

__all__ = [
    "RunFailure",
    "RunLimits",
    "RunOutcome",
    "create_execution_folder",
    "run_code",
]

BOOTSTRAP_PATH = Path(bootstrap.__file__).resolve()
CHANNEL_GRACE_SECONDS = 0.25
MAX_FIGURE_BYTES = 10 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FIGURE_NAME = re.compile(rf"^{bootstrap.FIGURE_PREFIX}\d{{1,2}}\.png$")


@dataclass(frozen=True)
class RunLimits:
    """How long, how much memory, output, processes and disk one run may use."""

    timeout_seconds: float
    memory_limit_mb: int | None
    max_output_bytes: int
    max_processes: int = DEFAULT_MAX_PROCESSES
    max_disk_mb: int = DEFAULT_MAX_DISK_MB

    def for_process(self) -> ProcessLimits:
        return ProcessLimits(
            timeout_seconds=self.timeout_seconds,
            memory_limit_mb=self.memory_limit_mb,
            max_output_bytes=self.max_output_bytes,
            max_processes=self.max_processes,
            max_disk_mb=self.max_disk_mb,
        )


@dataclass(frozen=True)
class RunOutcome:
    """Everything one run produced, successful or not."""

    folder: Path
    results: dict[str, Any] | None
    stdout: str
    stderr: str
    execution_time: float
    channel_writes: list[ChannelWrite] = field(default_factory=list)
    failure: RunFailure | None = None
    refused_channel_writes: list[RefusedChannelWrite] = field(default_factory=list)
    isolation: str = "process"
    notebook_path: Path | None = None
    figure_paths: list[Path] = field(default_factory=list)


async def run_code(
    code: str,
    folder: Path,
    *,
    limits: RunLimits,
    channels: Mapping[str, Any],
    writes_allowed: bool,
    isolation: Isolation = "auto",
    env: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Run ``code`` in ``folder`` (fresh and empty) and collect what it produced.

    ``writes_allowed`` is the approval decision: without it every control-system write
    is refused by the service. ``env`` adds entries to the code's environment.
    """
    mode = resolve_isolation(isolation)
    process_limits = limits.for_process()
    preload()
    with contextlib.closing(FolderFiles(folder)) as files:
        files.write(bootstrap.CODE_FILE_NAME, code.encode("utf-8"))
        seed_matplotlib(folder, code)
        session = ChannelSession(ControlSystem(dict(channels), writes_allowed))
        report = await _run_with_channel(mode, folder, session, process_limits, env or {})
        failure = classify(report, session, process_limits, sandboxed=mode == "sandbox")
        outcome = session.outcome or {}
        results = outcome.get("results") if failure is None else None
        results = results if isinstance(results, dict) else None
        reported_time = outcome.get("execution_time")
        execution_time = report.wall_time
        if isinstance(reported_time, int | float) and 0 <= reported_time <= report.wall_time:
            execution_time = float(reported_time)
        _write_record(files, session, failure, mode)
        figures = _read_figures(files, outcome.get("figures"))
        notebook = files.write(
            NOTEBOOK_NAME,
            render_notebook(
                NotebookContent(
                    title=folder.name,
                    code=code,
                    stdout=report.stdout,
                    stderr=report.stderr,
                    results=results,
                    error_type=failure.error_type if failure else None,
                    error_message=failure.message if failure else None,
                    traceback=failure.traceback if failure else None,
                    figures=[png for _, png in figures],
                    isolation=mode,
                    execution_time=execution_time,
                    channel_writes=session.control.writes,
                    refused_channel_writes=session.control.refused,
                )
            ),
            required=False,
        )
    return RunOutcome(
        folder=folder,
        results=results,
        stdout=report.stdout,
        stderr=report.stderr,
        execution_time=execution_time,
        channel_writes=list(session.control.writes),
        failure=failure,
        refused_channel_writes=list(session.control.refused),
        isolation=mode,
        notebook_path=notebook,
        figure_paths=[path for path, _ in figures],
    )


async def _run_with_channel(
    mode: str,
    folder: Path,
    session: ChannelSession,
    limits: ProcessLimits,
    extra_env: Mapping[str, str],
) -> ProcessReport:
    """Start the child with its end of a fresh socket pair, serve the other end meanwhile."""
    service_end, child_end = socket.socketpair()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(child_end.close)  # the child has its own copy once started
        env = child_environment(
            folder=folder,
            control_fd=child_end.fileno(),
            sandboxed=mode == "sandbox",
            extra=extra_env,
        )
        command = [sys.executable, str(BOOTSTRAP_PATH)]
        if mode == "sandbox":
            data_fds = [_data_fd(passwd_text(folder)), _data_fd(group_text())]
            for fd in data_fds:
                cleanup.callback(os.close, fd)
            status = sandbox_status()
            assert status.bwrap is not None
            layout = SandboxLayout(folder, env, limits.max_disk_mb * 2**20, *data_fds)
            spec = LaunchSpec(
                argv=bwrap_command(status.bwrap, layout, command, status.features),
                env={},  # bubblewrap itself gets nothing; the code gets the allow-list
                cwd=folder,
                folder=folder,
                limits=limits,
                pass_fds=(child_end.fileno(), *data_fds),
                in_user_namespace=True,
            )
        else:
            spec = LaunchSpec(
                argv=command,
                env=env,
                cwd=folder,
                folder=folder,
                limits=limits,
                pass_fds=(child_end.fileno(),),
            )
        server = asyncio.create_task(serve_channel(service_end, session))
        try:
            return await run_process(spec, finished=session.outcome_received)
        finally:
            cleanup.close()  # before waiting: the channel ends when the child's copies do
            await _stop_serving(server)


def _data_fd(text: str) -> int:
    """A pipe's read end holding ``text`` (small: it fits in the pipe buffer)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, text.encode("utf-8"))
    finally:
        os.close(write_end)
    return read_end


async def _stop_serving(server: asyncio.Task[None]) -> None:
    """Let the channel finish reading what the (now dead) code sent, then stop it."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(server), CHANNEL_GRACE_SECONDS)
    if not server.done():
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    elif server.exception() is not None:
        raise server.exception()  # type: ignore[misc]


def _read_figures(files: FolderFiles, names: object) -> list[tuple[Path, bytes]]:
    """The PNGs the bootstrap reported, read safely: named as it names them, regular
    files, at most ``MAX_FIGURE_BYTES``, with a PNG signature; anything else is skipped."""
    if not isinstance(names, list):
        return []
    figures = []
    for name in names[: bootstrap.MAX_FIGURES]:
        if not isinstance(name, str) or not _FIGURE_NAME.match(name):
            continue
        data = files.read_regular(name, MAX_FIGURE_BYTES)
        if data is not None and data.startswith(PNG_SIGNATURE):
            figures.append((files.folder / name, data))
    return figures


def _write_record(
    files: FolderFiles, session: ChannelSession, failure: RunFailure | None, mode: str
) -> None:
    """The service's record of the run: the final channel state and the outcome."""
    state = json.dumps(session.control.state_document(), indent=2, allow_nan=True)
    files.write(STATE_FILE_NAME, state.encode("utf-8"), required=False)
    outcome = dict(session.outcome or {"status": "no_outcome"})
    outcome["isolation"] = mode
    outcome["failure"] = (
        None
        if failure is None
        else {"error_type": failure.error_type, "message": failure.message}
    )
    text = json.dumps(outcome, allow_nan=True, default=repr)
    files.write(COMPLETION_MARKER, text.encode("utf-8"), required=False)
