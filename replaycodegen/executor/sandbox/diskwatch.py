"""The disk cap of an execution folder: measured while the code runs, enforced by a kill.

Each file is also capped by ``RLIMIT_FSIZE`` (exact, per file); the total is what this
watcher measures every ``interval`` seconds, so a run may overshoot the cap by what it
writes within one interval before it is stopped. Walks never follow symlinks (``fwalk``
holds a descriptor per level), stop counting past the entry cap, and treat a tree nested
deeper than ``MAX_DEPTH`` as over the cap.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_DEPTH", "FolderUsage", "measure_folder", "watch_folder"]

MAX_DEPTH = 64
WATCH_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True)
class FolderUsage:
    """Bytes allocated on disk and directory entries under a folder."""

    bytes: int
    entries: int
    too_deep: bool = False

    def problem(self, max_bytes: int, max_entries: int) -> str | None:
        """Why this usage is over the caps, or None."""
        if self.too_deep:
            return f"nested directories deeper than {MAX_DEPTH} levels"
        if self.entries > max_entries:
            return f"more than {max_entries} files and directories"
        if self.bytes > max_bytes:
            return f"{self.bytes / 2**20:.1f} MB on disk, over {max_bytes / 2**20:g} MB"
        return None


def measure_folder(folder: Path, stop_after_entries: int) -> FolderUsage:
    """What ``folder`` holds (files' allocated blocks, so sparse files count as written)."""
    total = entries = 0
    base_depth = len(folder.parts)
    try:
        walk = os.fwalk(folder, follow_symlinks=False)
        for root, dirs, files, root_fd in walk:
            if len(Path(root).parts) - base_depth >= MAX_DEPTH and dirs:
                return FolderUsage(total, entries, too_deep=True)
            for name in (*dirs, *files):
                entries += 1
                if entries > stop_after_entries:
                    return FolderUsage(total, entries)
                try:
                    st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
    except OSError:  # out of descriptors on a pathological tree, or the folder vanished
        return FolderUsage(total, entries, too_deep=entries > 0)
    return FolderUsage(total, entries)


async def watch_folder(
    folder: Path,
    *,
    max_bytes: int,
    max_entries: int,
    on_exceeded: Callable[[str], None],
    interval: float = WATCH_INTERVAL_SECONDS,
) -> None:
    """Measure ``folder`` every ``interval`` s; call ``on_exceeded(problem)`` once and
    return when it goes over a cap. Runs until cancelled otherwise."""
    while True:
        await asyncio.sleep(interval)
        usage = await asyncio.to_thread(measure_folder, folder, max_entries)
        problem = usage.problem(max_bytes, max_entries)
        if problem is not None:
            on_exceeded(problem)
            return
