"""The environment generated code starts with: an explicit allow-list, nothing inherited.

Both isolation levels build it the same way: ``PATH``, ``HOME`` (the execution folder),
``LANG``, ``TMPDIR``, ``PYTHONPATH`` (so ``import replaycodegen.runtime`` works), a few
interpreter settings, matplotlib's non-interactive backend and config folder, the control
channel's descriptor number, and the ``execution.env`` entries the user named. No other
variable of the service reaches the code, so neither do its API keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import replaycodegen
from replaycodegen import runtime

__all__ = ["MPL_CONFIG_DIR_NAME", "child_environment", "package_parent"]

MPL_CONFIG_DIR_NAME = ".matplotlib"
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def package_parent() -> Path:
    """The directory that holds the ``replaycodegen`` package (first on ``PYTHONPATH``)."""
    return Path(replaycodegen.__file__).resolve().parent.parent


def child_environment(
    *,
    folder: Path,
    control_fd: int,
    sandboxed: bool,
    extra: Mapping[str, str] = {},
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of the code; ``base`` (the service's) gives only ``PATH``,
    ``LANG`` and ``TMPDIR`` outside the sandbox."""
    base = os.environ if base is None else base
    env = {
        "PATH": _SYSTEM_PATH if sandboxed else base.get("PATH", _SYSTEM_PATH),
        "HOME": str(folder),
        "LANG": base.get("LANG") or "C.UTF-8",
        "TMPDIR": "/tmp" if sandboxed else base.get("TMPDIR", "/tmp"),
        "PYTHONPATH": str(package_parent()),
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(folder / MPL_CONFIG_DIR_NAME),
    }
    env.update(extra)
    env[runtime.CONTROL_FD_ENV] = str(control_fd)
    return env
