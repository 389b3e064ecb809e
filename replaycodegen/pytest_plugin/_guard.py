"""Glue to :func:`replaycodegen.guard.block_live_llm_calls`: no live LLM call during replay.

Active around each test whose ``codegen`` fixture replays (record mode ``none``), from
fixture setup to teardown, and around every test with ``--codegen-guard=all``; loopback
hosts stay reachable. The guard's stubs are built once per process and swapped in per
test, so a guarded test pays microseconds. Inside pytest-recording's ``vcr`` cassette the
guard steps aside: that cassette answers (or refuses) every request of the test.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.guard import (
    LOOPBACK_HOSTS,
    LiveCallBlocked,
    block_live_llm_calls,
    vcr_installed,
)
from replaycodegen.plural import plural

from ._settings import SetupError

NO_VCR_WARNING = (
    "replaycodegen: vcrpy is not installed, so live calls are blocked at the socket level "
    "only and their message names the host and port, not the method and URL; fix: pip "
    "install 'replaycodegen[vcr]'"
)


def allowed_hosts(config: Mapping[str, Any]) -> tuple[str, ...]:
    """``codegen_config["allowed_hosts"]``, else the loopback hosts."""
    hosts = config.get("allowed_hosts", LOOPBACK_HOSTS)
    if isinstance(hosts, str):
        hosts = [hosts]
    if not all(isinstance(h, str) for h in hosts):
        raise SetupError(f"codegen_config['allowed_hosts'] must be a list of host names, "
                         f"not {hosts!r}")
    return tuple(hosts)


class LiveCallGuards:
    """Puts the guard around tests; warns once per session when vcrpy is missing."""

    def __init__(self) -> None:
        self._warned_no_vcr = False

    def _warn_without_vcr(self) -> None:
        if not self._warned_no_vcr and not vcr_installed():
            self._warned_no_vcr = True
            warnings.warn(pytest.PytestWarning(NO_VCR_WARNING), stacklevel=1)

    @contextmanager
    def around_test(self, cassette: Path | None, mode: str, config: Mapping[str, Any],
                    hosts: tuple[str, ...], fix: Callable[[], str]
                    ) -> Iterator[list[LiveCallBlocked]]:
        """Yield the list of calls blocked so far (empty and inert when not guarding)."""
        if mode != "none" or not config.get("block_live_calls", True):
            yield []
            return
        self._warn_without_vcr()
        with block_live_llm_calls(cassette, "none", allow_hosts=hosts, fix=fix) as guard:
            yield guard.blocked


def warn_swallowed(test_id: str, blocked: list[LiveCallBlocked]) -> None:
    """A passing test whose code caught the blocked call still gets told about it."""
    warnings.warn(pytest.PytestWarning(
        f"replaycodegen: {test_id} passed, but {plural(len(blocked), 'live HTTP call')} "
        f"{'was' if len(blocked) == 1 else 'were'} "
        f"blocked and the error was caught by the code under test; first: {blocked[0]}"
    ), stacklevel=1)
