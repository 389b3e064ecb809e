"""The plugin's per-session state, kept in ``config.stash`` (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ._cassettes import SessionCassettes
from ._claims import SessionClaims
from ._guard import LiveCallGuards
from ._report import CassetteReport, CodegenLedger
from ._settings import CodegenSettings


@dataclass
class PluginState:
    settings: CodegenSettings
    ledger: CodegenLedger
    claims: SessionClaims
    guards: LiveCallGuards
    reports: list[CassetteReport] | None = None
    cassettes: SessionCassettes = field(default_factory=SessionCassettes)
    """Cassette files parsed in this session (each once while unchanged)."""


STATE_KEY = pytest.StashKey[PluginState]()
PHASE_REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
"""On each test item: its setup / call / teardown reports so far."""
USED_KEY = pytest.StashKey[bool]()
"""On each test item that set up the ``codegen`` fixture."""


def plugin_state(config: pytest.Config) -> PluginState:
    return config.stash[STATE_KEY]


def uses_codegen(item: pytest.Item) -> bool:
    return "codegen" in getattr(item, "fixturenames", ()) or item.stash.get(USED_KEY, False)


def failed_so_far(item: pytest.Item) -> bool:
    """Setup or call failed, or the call was an expected failure (xfail)."""
    reports = item.stash.get(PHASE_REPORTS_KEY, {})
    call = reports.get("call")
    xfailed = call is not None and call.skipped and hasattr(call, "wasxfail")
    return xfailed or any(r.failed for r in reports.values())

