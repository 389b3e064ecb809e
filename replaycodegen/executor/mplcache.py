"""matplotlib's font cache, built once by the service and copied into each folder that
may plot, so code that imports matplotlib does not rebuild it on every run.

The cache is built by a plain ``import matplotlib.font_manager`` in a subprocess of the
service (trusted code), into ``$XDG_CACHE_HOME/replaycodegen/`` (else a private temp
dir), keyed by the matplotlib and Python versions. Generated code never writes it: each
run gets its own copy in ``<folder>/.matplotlib`` (``MPLCONFIGDIR``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from replaycodegen.executor.environment import MPL_CONFIG_DIR_NAME

__all__ = ["font_cache_files", "seed_matplotlib"]

logger = logging.getLogger("replaycodegen.executor")

_BUILD_TIMEOUT_SECONDS = 120
_MAX_CACHE_FILE_BYTES = 16 * 2**20


def seed_matplotlib(folder: Path, code: str) -> None:
    """Copy the font cache into a fresh ``folder`` when ``code`` mentions matplotlib."""
    if "matplotlib" not in code:
        return
    files = font_cache_files()
    if not files:
        return
    target = folder / MPL_CONFIG_DIR_NAME
    target.mkdir(mode=0o700, exist_ok=True)
    for name, data in files:
        (target / name).write_bytes(data)


@functools.cache
def font_cache_files() -> tuple[tuple[str, bytes], ...]:
    """(name, content) of the prebuilt cache files; empty without matplotlib."""
    if importlib.util.find_spec("matplotlib") is None:
        return ()
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    tag = f"matplotlib-{version}-py{sys.version_info[0]}{sys.version_info[1]}"
    for base in (_user_cache_dir(), None):
        cache = _built_cache(base, tag)
        if cache is not None:
            return tuple(
                (p.name, p.read_bytes())
                for p in sorted(cache.glob("fontlist-*.json"))
                if p.is_file() and p.stat().st_size <= _MAX_CACHE_FILE_BYTES
            )
    return ()


def _user_cache_dir() -> Path | None:
    configured = os.environ.get("XDG_CACHE_HOME")
    try:
        base = Path(configured) if configured else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return base / "replaycodegen"


def _built_cache(base: Path | None, tag: str) -> Path | None:
    """The cache directory for ``tag`` under ``base`` (a temp dir when None), built now
    when missing; None when it cannot be built there."""
    try:
        if base is None:
            base = Path(tempfile.mkdtemp(prefix="replaycodegen-mplcache-"))
        cache = base / tag
        if any(cache.glob("fontlist-*.json")):
            return cache
        base.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{tag}.", dir=base))
    except OSError as exc:
        logger.debug("no matplotlib font cache under %s: %s", base, exc)
        return None
    try:
        env = {**os.environ, "MPLCONFIGDIR": str(building), "MPLBACKEND": "Agg"}
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_BUILD_TIMEOUT_SECONDS,
            check=True,
        )
        if not any(building.glob("fontlist-*.json")):
            return None
        with contextlib.suppress(OSError):  # another process may have won the race
            building.rename(cache)
        return cache if any(cache.glob("fontlist-*.json")) else None
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("cannot build the matplotlib font cache: %s", exc)
        return None
    finally:
        shutil.rmtree(building, ignore_errors=True)
