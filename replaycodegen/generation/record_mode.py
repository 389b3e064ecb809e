"""Record modes: vcrpy's names and meaning, plus pytest-recording's ``rewrite``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum


class RecordMode(StrEnum):
    """When a recorder calls the real generator.

    ``none``: replay only, a miss raises ``CassetteMiss``. ``once``: record everything when
    the cassette file does not exist yet, otherwise behave as ``none``. ``new_episodes``:
    replay hits, record misses. ``all``: always call the real generator and replace the
    matching entries. ``rewrite``: start the cassette afresh and record everything.
    ``stale``: re-record in place the entries ``replaycodegen status`` calls stale, replay
    the others, record what is missing. Re-recording never replaces crafted or hand entries.
    """

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"
    REWRITE = "rewrite"
    STALE = "stale"

    @classmethod
    def parse(
        cls, value: str | RecordMode | None, environ: Mapping[str, str] | None = None
    ) -> RecordMode:
        """``None`` means the default (``none`` under CI, else ``once``)."""
        if value is None:
            return default_record_mode(environ)
        if isinstance(value, RecordMode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown record mode {value!r}; valid modes: {valid}") from None


def running_in_ci(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def default_record_mode(environ: Mapping[str, str] | None = None) -> RecordMode:
    """``none`` when the ``CI`` environment variable is set (as pytest-recording), else ``once``."""
    return RecordMode.NONE if running_in_ci(environ) else RecordMode.ONCE
