"""Running a child process bounded, and under bubblewrap when it is available.

``bwrap`` builds the sandbox's command line, ``cgroups`` bounds a process tree,
``diskwatch`` caps the execution folder, ``process`` starts and waits for a child, and
``probe`` finds out once per process whether the sandbox can run here.
"""

from __future__ import annotations

from replaycodegen.executor.sandbox.bwrap import (
    SandboxLayout,
    bwrap_command,
    group_text,
    passwd_text,
)
from replaycodegen.executor.sandbox.probe import (
    SandboxStatus,
    SandboxUnavailable,
    SandboxWarning,
    resolve_isolation,
    sandbox_status,
)
from replaycodegen.executor.sandbox.process import (
    LaunchSpec,
    ProcessLimits,
    ProcessReport,
    run_process,
)

__all__ = [
    "LaunchSpec",
    "ProcessLimits",
    "ProcessReport",
    "SandboxLayout",
    "SandboxStatus",
    "SandboxUnavailable",
    "SandboxWarning",
    "bwrap_command",
    "group_text",
    "passwd_text",
    "resolve_isolation",
    "run_process",
    "sandbox_status",
]
