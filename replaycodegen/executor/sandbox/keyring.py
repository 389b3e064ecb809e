"""A fresh session keyring for the child, so that it cannot read the service's keys.

Linux keyrings are not files and no namespace of bubblewrap's hides them: a process
inherits its parent's *session* keyring across fork and exec, and possesses every key in
it, so generated code could read whatever the service (or the login session, or a CI
agent) keeps there: Kerberos tickets, ``keyctl add user token ... @s`` secrets, file
system keys. The child joins a new, empty, anonymous session keyring between fork and
exec, before anything of the code runs. (The *user* keyring is per user namespace, so
the sandbox has its own; under ``process`` isolation the code shares the service's user
and its user keyring, like everything else of that user.)

There is no libc wrapper for ``keyctl``; it is called by its system call number, known
for the common architectures. Elsewhere, or where a seccomp policy refuses keyctl (as
Docker's default one does), nothing happens: the code then cannot reach keyrings either,
or keeps the session keyring (docs/executor.md says so).
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable

__all__ = ["session_keyring_joiner"]

_KEYCTL_JOIN_SESSION_KEYRING = 1
_KEYCTL_SYSCALL = {
    "x86_64": 250,
    "amd64": 250,
    "aarch64": 219,
    "arm64": 219,
    "riscv64": 219,
    "loongarch64": 219,
    "ppc64le": 271,
    "ppc64": 271,
    "s390x": 280,
    "i386": 288,
    "i686": 288,
    "armv7l": 311,
    "armv6l": 311,
}


@functools.cache
def session_keyring_joiner() -> Callable[[], None] | None:
    """A function (for ``preexec_fn``) that gives the calling process a new anonymous
    session keyring; None where the system call is not known."""
    number = _KEYCTL_SYSCALL.get(platform.machine().lower())
    if number is None:
        return None
    import ctypes  # only here: ``import replaycodegen`` stays cheap

    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long

    def join() -> None:  # runs in the child between fork and exec: no allocation needed
        syscall(ctypes.c_long(number), ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING), None)

    return join
