"""Decisions taken once per cassette per session, the same in every xdist worker.

``once`` records only if the cassette was missing (or empty) when the session first used
it, and ``rewrite`` empties a cassette only the first time: later tests that share the
cassette, in this process or in another worker, add to it instead of wiping it again.
The first caller decides under a file lock in a run folder shared with the workers
(``config.workerinput``), and everybody reads the same answer.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

WORKERINPUT_KEY = "replaycodegen_claims_dir"


class SessionClaims:
    """A run folder of ``<hash of cassette path>.claim`` files holding the first decision."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._owned = False

    @property
    def directory(self) -> Path:
        """The run folder, created on first use by the process that owns the session."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="replaycodegen-claims-"))
            self._owned = True
        return self._directory

    def first_decision(self, cassette: Path, decide: Callable[[], str]) -> str:
        """Return what the first caller for ``cassette`` decided; that caller runs
        ``decide()`` (and its side effects) while holding the lock."""
        name = hashlib.sha256(str(cassette).encode("utf-8")).hexdigest()[:32]
        claim = self.directory / f"{name}.claim"
        from filelock import FileLock  # only recording sessions decide anything

        with FileLock(str(claim) + ".lock"):
            if claim.exists():
                return claim.read_text(encoding="utf-8")
            decision = decide()
            claim.write_text(decision, encoding="utf-8")
            return decision

    def cleanup(self) -> None:
        """Remove the run folder if this process created it."""
        if self._owned and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory, self._owned = None, False
