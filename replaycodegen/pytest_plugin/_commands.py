"""The advice a test's miss or blocked live call ends with: a pytest command that runs as
printed (from the folder pytest was started in), quoted for a POSIX shell.

``pytest 'tests/test_x.py::test_param[first question]' --codegen-record-mode=once`` records
that one test; the ``--codegen-*`` options that decide where and how it records are carried
over from the command line that ran the test.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

CARRIED_OPTIONS = ("cassette_dir", "model", "base_url", "api_key_env")
"""``--codegen-<name>`` options a recording run needs as the failing run had them."""
NEEDS_KEY = "needs an API key, e.g. OPENAI_API_KEY"


def node_spec(item: pytest.Item) -> str:
    """The test's node id with its file relative to the folder pytest was started in."""
    relative = os.path.relpath(item.path, item.config.invocation_params.dir)
    _, _, rest = item.nodeid.partition("::")
    return f"{relative}::{rest}" if rest else relative


def pytest_command(item: pytest.Item, mode: str) -> str:
    """``pytest NODE --codegen-record-mode=MODE`` plus the carried options."""
    parts = ["pytest", shlex.quote(node_spec(item)), f"--codegen-record-mode={mode}"]
    for name in CARRIED_OPTIONS:
        value = item.config.getoption(f"codegen_{name}", None)
        if value is not None:
            parts.append(f"--codegen-{name.replace('_', '-')}={shlex.quote(str(value))}")
    return " ".join(parts)


@dataclass(frozen=True)
class CodegenFixes:
    """The fix texts of one test that uses the ``codegen`` fixture."""

    item: pytest.Item
    cassette: Path | None
    marker_mode: str | None
    """The ``record_mode`` its marker pins (the command line cannot override it)."""

    def _record(self, mode: str) -> str:
        if self.marker_mode is not None:
            return (f"this test's codegen_cassette marker sets record_mode="
                    f"{self.marker_mode!r}, which wins over the command line: set "
                    f"record_mode={mode!r} there for one run ({NEEDS_KEY})")
        return f"`{pytest_command(self.item, mode)}` ({NEEDS_KEY})"

    def _mode_that_records(self) -> str:
        exists = self.cassette is not None and self.cassette.exists()
        return "new_episodes" if exists else "once"  # once never records into a full one

    def miss(self, reason: str) -> str:
        """After a ``CassetteMiss`` (replay, or a recording mode that does not record)."""
        from replaycodegen.cassette.miss import ALL_PLAYED, NO_SUCH_CASSETTE

        if reason == NO_SUCH_CASSETTE:
            return (f"record it: {self._record('once')}; or point "
                    "@pytest.mark.codegen_cassette at an existing cassette or a behavior=")
        if reason == ALL_PLAYED:
            return ("the request was made more often than recorded: set `repeat_last: true` "
                    f"in the cassette, or record the extra calls: {self._record('new_episodes')}")
        edit = (f" or craft an entry by hand (`replaycodegen edit "
                f"{shlex.quote(str(self.cassette))} ENTRY`);" if self.cassette else "")
        return (f"record it: {self._record('new_episodes')};{edit} if the request changed on "
                f"purpose, re-record with --codegen-record-mode=all")

    def live_call(self) -> str:
        """After a blocked live HTTP call in a test that replays a cassette."""
        return f"To record it, run {self._record(self._mode_that_records())}."


def behaviour_live_call(item: pytest.Item, behavior: str) -> str:
    """A blocked call in a test that serves a shipped behaviour: nothing to record into."""
    return (f"This test serves the shipped behaviour {behavior!r} (@pytest.mark.codegen_cassette"
            "(behavior=...)), so there is no cassette to record into. If the test may reach "
            "this host, let it through: a codegen_config fixture returning "
            "{'allowed_hosts': ['<host>', '127.0.0.1', 'localhost']} (or "
            "{'block_live_calls': False}); else replay a cassette instead of the behaviour "
            f"and record it: `{pytest_command(item, 'once')}` ({NEEDS_KEY}).")


def uncovered_live_call(item: pytest.Item) -> str:
    """A blocked call under ``--codegen-guard=all`` in a test without the ``codegen`` fixture."""
    return ("This test does not use the codegen fixture, so there is no cassette to record "
            "into (--codegen-guard=all guards every test). If the test may reach this host, "
            "let it through: a codegen_config fixture returning {'allowed_hosts': ['<host>', "
            "'127.0.0.1', 'localhost']} (or {'block_live_calls': False}); else replay the "
            f"call from a cassette (the codegen fixture, or pytest-recording's vcr marker for "
            f"other HTTP). Test: {node_spec(item)}")
