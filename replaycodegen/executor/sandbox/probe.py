"""Is the sandbox available here? Found once per process, by trying it for real.

"Available" means: a ``bwrap`` binary is on ``PATH`` *and* a trial run with the very flag
set of an execution (binds, namespaces, caps) starts the interpreter and imports
``replaycodegen.runtime``. A kernel or AppArmor policy that forbids unprivileged user
namespaces (Ubuntu 24.04's default) shows up here, with bubblewrap's own message.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from replaycodegen.executor.config import ExecutorConfigError
from replaycodegen.executor.environment import package_parent
from replaycodegen.executor.sandbox.bwrap import (
    SandboxLayout,
    bwrap_command,
    group_text,
    passwd_text,
)

__all__ = [
    "SandboxStatus",
    "SandboxUnavailable",
    "SandboxWarning",
    "resolve_isolation",
    "sandbox_status",
]

Resolved = Literal["sandbox", "process"]
OPTIONAL_FLAGS = ("--size", "--disable-userns", "--unshare-cgroup-try")
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: "
    "`dnf install bubblewrap`); on Ubuntu 23.10+ unprivileged user namespaces may also "
    "need an AppArmor profile for bwrap (see docs/executor.md)"
)
_PROBE_TIMEOUT_SECONDS = 30
_warned = False


class SandboxUnavailable(ExecutorConfigError):
    """``execution.isolation`` is ``sandbox`` but bubblewrap cannot run here."""


class SandboxWarning(UserWarning):
    """``auto`` isolation fell back to the unisolated process runner."""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether the sandbox works here, and why not when it does not."""

    available: bool
    bwrap: str | None
    reason: str = ""
    features: frozenset[str] = frozenset()


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Probe bubblewrap once per process (a trial execution, about 20 ms)."""
    if not sys.platform.startswith("linux"):
        return SandboxStatus(False, None, f"bubblewrap needs Linux (this is {sys.platform})")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(False, None, "bubblewrap (bwrap) is not installed")
    features = _features(bwrap)
    problem = _trial_run(bwrap, features)
    if problem is not None:
        return SandboxStatus(False, bwrap, problem, features)
    return SandboxStatus(True, bwrap, "", features)


def _features(bwrap: str) -> frozenset[str]:
    try:
        shown = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    text = shown.stdout + shown.stderr
    return frozenset(flag for flag in OPTIONAL_FLAGS if f"{flag} " in text)


def _trial_run(bwrap: str, features: frozenset[str]) -> str | None:
    """None when a sandbox like an execution's starts and imports the runtime."""
    with tempfile.TemporaryDirectory(prefix="replaycodegen-probe-") as folder:
        passwd_read, passwd_write = os.pipe()
        group_read, group_write = os.pipe()
        try:
            os.write(passwd_write, passwd_text(Path(folder)).encode())
            os.write(group_write, group_text().encode())
            os.close(passwd_write)
            os.close(group_write)
            layout = SandboxLayout(
                folder=Path(folder),
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_parent())},
                tmp_size_bytes=16 * 2**20,
                passwd_fd=passwd_read,
                group_fd=group_read,
            )
            command = [sys.executable, "-c", "import replaycodegen.runtime"]
            done = subprocess.run(
                bwrap_command(bwrap, layout, command, features),
                capture_output=True,
                text=True,
                env={},
                pass_fds=(passwd_read, group_read),
                timeout=_PROBE_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap could not be started: {exc}"
        finally:
            for fd in (passwd_read, group_read):
                os.close(fd)
    if done.returncode != 0:
        message = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()[-1]
        return f"a trial sandbox failed: {message}"
    return None


def resolve_isolation(requested: str) -> Resolved:
    """``sandbox`` or ``process`` for ``execution.isolation``.

    ``sandbox`` raises ``SandboxUnavailable`` when bubblewrap cannot run; ``auto`` falls
    back to ``process`` with one ``SandboxWarning`` per process.
    """
    if requested == "process":
        return "process"
    status = sandbox_status()
    if status.available:
        return "sandbox"
    if requested == "sandbox":
        raise SandboxUnavailable(
            f"configurable.execution.isolation='sandbox' but the sandbox cannot run here: "
            f"{status.reason}; fix: {INSTALL_HINT}, or set isolation to 'auto' or 'process' "
            "to run generated code without isolation (trusted code only)"
        )
    _warn_once(status)
    return "process"


def _warn_once(status: SandboxStatus) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        f"replaycodegen: generated code runs WITHOUT a sandbox ({status.reason}): it can "
        "read your files and environment, use the network and signal your processes. "
        f"To isolate it, {INSTALL_HINT}. Set execution.isolation to 'process' to silence "
        "this warning, or to 'sandbox' to refuse running without one.",
        SandboxWarning,
        stacklevel=3,
    )
