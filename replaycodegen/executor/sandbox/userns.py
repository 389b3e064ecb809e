"""Under a root service, the sandbox's code runs as ``nobody`` on the host, not as root.

bubblewrap started by root maps the sandbox's user to the caller, host uid 0. Without
capabilities that is still the owner of every root-owned inode the sandbox can reach,
and the kernel asks no more for some of them: ``/proc/sys`` (``kernel.core_pattern``
runs a program as real root), the host's ``/dev/null``, ``/dev/urandom``, ... (chmod
000 breaks the machine), root-only files under the read-only binds, and a set-user-ID
file left in the folder is set-user-ID *root*.

So a root service writes the user namespace's maps itself, through bubblewrap's
``--info-fd`` / ``--userns-block-fd`` handshake: uid 0 -> host 0 (bubblewrap's own setup,
which must read the interpreter under ``/root`` or wherever it lives) and the sandbox
user 1000 -> host ``nobody`` (65534). bubblewrap keeps only ``CAP_SETUID``,
``CAP_SETGID`` and ``CAP_SYS_RESOURCE`` for the bootstrap, whose first act, before any
generated code exists in the process, is to forbid nested user namespaces (what
``--disable-userns`` does, which this handshake excludes) and switch to 1000 for good:
the code has no capability, is not host root, and cannot switch back.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time

__all__ = [
    "HOST_GID",
    "HOST_UID",
    "SANDBOX_USER_ENV",
    "HandoverFailed",
    "UserNamespaceHandover",
    "runs_as_host_root",
]

HOST_UID = 65534  # nobody: owns nothing the sandbox can reach
HOST_GID = 65534  # nogroup
SANDBOX_USER_ENV = "REPLAYCODEGEN_SANDBOX_USER"  # "uid:gid" the bootstrap switches to
HANDOVER_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_SYS_RESOURCE")
_HANDOVER_SECONDS = 10.0


def runs_as_host_root() -> bool:
    """Whether the sandbox would otherwise map its user to host root."""
    return os.geteuid() == 0


class HandoverFailed(RuntimeError):
    """bubblewrap did not report its child, or its maps could not be written."""


class UserNamespaceHandover:
    """The two pipes of the handshake and the maps written through them (one use)."""

    def __init__(self, sandbox_uid: int, sandbox_gid: int) -> None:
        self.sandbox_uid = sandbox_uid
        self.sandbox_gid = sandbox_gid
        self._info_read, info_write = os.pipe()
        block_read, self._block_write = os.pipe()
        os.set_blocking(self._info_read, False)
        self.child_fds = (info_write, block_read)  # bwrap's --info-fd, --userns-block-fd
        self._open = {self._info_read, self._block_write, *self.child_fds}

    def started(self) -> None:
        """Close the child's ends in this process (call right after starting bwrap)."""
        self._close(*self.child_fds)

    def close(self) -> None:
        """Close what is still open (idempotent: descriptor numbers are reused)."""
        self._close(*list(self._open))

    def _close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def complete(self, timeout: float = _HANDOVER_SECONDS) -> None:
        """Read bubblewrap's child pid, write its maps, then let it go on.

        On failure nothing is written to the block pipe: the caller must kill bubblewrap
        before ``close`` (an unmapped child must never run).
        """
        pid = self._child_pid(timeout)
        try:
            for name, inside, outside in (
                ("uid_map", self.sandbox_uid, HOST_UID),
                ("gid_map", self.sandbox_gid, HOST_GID),
            ):
                with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as handle:
                    handle.write(f"0 0 1\n{inside} {outside} 1\n")
        except OSError as exc:
            raise HandoverFailed(f"cannot write the sandbox's user maps: {exc}") from exc
        os.write(self._block_write, b"1")

    def _child_pid(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HandoverFailed("bubblewrap did not report its child in time")
            ready, _, _ = select.select([self._info_read], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._info_read, 4096)
            if not chunk:
                raise HandoverFailed("bubblewrap ended before reporting its child")
            data += chunk
            try:
                info = json.loads(data)
            except ValueError:
                continue  # not all of it yet
            pid = info.get("child-pid") if isinstance(info, dict) else None
            if not isinstance(pid, int) or pid <= 0:
                raise HandoverFailed(f"bubblewrap reported no child pid: {data!r}")
            return pid
