"""Is the sandbox available here? Found once per process, by trying it for real.

"Available" means: a ``bwrap`` binary is on ``PATH`` *and* a trial run with the very flag
set of an execution (binds, namespaces, caps, a root service's user handover) starts the
bootstrap, which imports ``replaycodegen.runtime`` and runs a line of code. A kernel or
AppArmor policy that forbids unprivileged user namespaces (Ubuntu 24.04's default) shows
up here, with bubblewrap's own message.
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
    SANDBOX_GID,
    SANDBOX_UID,
    SandboxLayout,
    bwrap_command,
    group_text,
    passwd_text,
)
from replaycodegen.executor.sandbox.userns import (
    HOST_GID,
    HOST_UID,
    SANDBOX_USER_ENV,
    HandoverFailed,
    UserNamespaceHandover,
    runs_as_host_root,
)

__all__ = [
    "SandboxStatus",
    "SandboxUnavailable",
    "SandboxWarning",
    "resolve_isolation",
    "sandbox_status",
]

Resolved = Literal["sandbox", "process"]
OPTIONAL_FLAGS = ("--size", "--perms", "--disable-userns", "--unshare-cgroup-try")
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
    """None when a sandbox exactly like an execution's (a root service's handover
    included) starts the bootstrap, which imports the runtime and runs a line of code."""
    from replaycodegen.executor import bootstrap  # the executor's own modules: late

    with tempfile.TemporaryDirectory(prefix="replaycodegen-probe-") as name:
        folder = Path(name)
        (folder / bootstrap.CODE_FILE_NAME).write_text(
            "import replaycodegen.runtime\nresults = {}\n", encoding="utf-8"
        )
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_parent())}
        handover = UserNamespaceHandover(SANDBOX_UID, SANDBOX_GID) if runs_as_host_root() else None
        if handover is not None:
            os.chown(folder, HOST_UID, HOST_GID)
            os.chmod(folder, 0o711)
            env[SANDBOX_USER_ENV] = f"{SANDBOX_UID}:{SANDBOX_GID}"
        passwd_read, passwd_write = os.pipe()
        group_read, group_write = os.pipe()
        try:
            os.write(passwd_write, passwd_text(folder).encode())
            os.write(group_write, group_text().encode())
            os.close(passwd_write)
            os.close(group_write)
            layout = SandboxLayout(
                folder=folder,
                env=env,
                tmp_size_bytes=16 * 2**20,
                passwd_fd=passwd_read,
                group_fd=group_read,
                handover=handover.child_fds if handover else None,
            )
            command = [sys.executable, bootstrap.__file__]
            process = subprocess.Popen(
                bwrap_command(bwrap, layout, command, features),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={},
                cwd=folder,
                pass_fds=(passwd_read, group_read, *(handover.child_fds if handover else ())),
            )
            problem = _complete_handover(handover, process)
            try:
                _, stderr = process.communicate(timeout=_PROBE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap could not be started: {exc}"
        finally:
            for fd in (passwd_read, group_read):
                os.close(fd)
            if handover is not None:
                handover.close()
                os.chown(folder, os.geteuid(), os.getegid())  # so that it can be removed
    if problem is not None:  # bubblewrap's own message first, when it left one
        shown = stderr.strip().splitlines()[-1] if stderr.strip() else problem
        return f"a trial sandbox failed: {shown.removeprefix('bwrap: ')}"
    if process.returncode != 0:
        message = (stderr.strip() or f"exit code {process.returncode}").splitlines()[-1]
        return f"a trial sandbox failed: {message}"
    return None


def _complete_handover(
    handover: UserNamespaceHandover | None, process: subprocess.Popen[str]
) -> str | None:
    if handover is None:
        return None
    handover.started()
    try:
        handover.complete()
    except (HandoverFailed, OSError) as exc:
        process.kill()
        return str(exc)
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
        f"replaycodegen: generated code runs WITHOUT a sandbox ({status.reason}), as your "
        "user: it can read, change and delete your files, read this process's environment "
        "and memory (its API keys), use the network, and signal or stop your processes; "
        "only the resource limits and a trimmed environment apply. "
        f"To isolate it, {INSTALL_HINT}. Set execution.isolation to 'process' to silence "
        "this warning, or to 'sandbox' to refuse running without one.",
        SandboxWarning,
        stacklevel=3,
    )
