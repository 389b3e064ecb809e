"""The replaycodegen pytest plugin: hooks and options (fixtures live in ``_fixtures``).

Registered through the ``pytest11`` entry point; importing it loads neither openai, nor
vcrpy, nor the executor. See docs/pytest-plugin.md.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ._claims import WORKERINPUT_KEY, SessionClaims
from ._fixtures import (
    GuardEveryTest,
    codegen,
    codegen_cassette_path,
    codegen_config,
    codegen_record_mode,
    codegen_request,
    codegen_service,
)
from ._guard import LiveCallGuards
from ._ledger import ledger_writer
from ._lifecycle_summary import RUN_REPORT_KEY, render_lifecycle
from ._paths import MARKER_DOC, MarkerError, resolved
from ._report import (
    WORKEROUTPUT_KEY,
    CodegenLedger,
    build_reports,
    render,
    render_dry_run,
    unused_count,
)
from ._settings import add_options, cache_choice, check_api_key, read_settings
from ._shard import IDENTITY_KEY, add_lifecycle_options, identity, resolve_identity
from ._shard import WORKERINPUT_KEY as IDENTITY_INPUT_KEY
from ._state import PHASE_REPORTS_KEY, STATE_KEY, PluginState, plugin_state, uses_codegen

__all__ = [
    "codegen",
    "codegen_cassette_path",
    "codegen_config",
    "codegen_record_mode",
    "codegen_request",
    "codegen_service",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    add_lifecycle_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_DOC)
    shared = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
    config.stash[STATE_KEY] = PluginState(
        read_settings(config), CodegenLedger(),
        SessionClaims(Path(shared) if shared else None), LiveCallGuards())
    settings = plugin_state(config).settings
    if settings.guard == "all" and settings.record_mode == "none":
        config.pluginmanager.register(GuardEveryTest(), "replaycodegen-guard-all")
    from replaycodegen.cassette.loading.cache import set_default_cache

    config.add_cleanup(set_default_cache(cache_choice(config)))


def pytest_unconfigure(config: pytest.Config) -> None:
    if STATE_KEY in config.stash:
        plugin_state(config).claims.cleanup()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)  # before xdist starts its workers
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):
        return
    check_api_key(plugin_state(config).settings)
    config.stash[IDENTITY_KEY] = resolve_identity(config)
    if (writer := ledger_writer(config)) is not None:
        writer.start()


# -- which cassettes the collected tests would use (for the unused-entries check) ------------
def _static_path(item: pytest.Item) -> str | None:
    try:
        marker, choice = resolved(item, plugin_state(item.config).settings.cassette_dir)
    except MarkerError:
        return None  # the codegen fixture reports it when the test runs
    return None if marker.behavior is not None else str(choice.path)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = plugin_state(session.config)
    ledger = state.ledger
    for item in session.items:
        ledger.collected.add(item.nodeid)
        ledger.modules.add(str(item.path))
        if uses_codegen(item) and (path := _static_path(item)) is not None:
            ledger.expected.setdefault(path, set()).add(item.nodeid)
            state.cassettes.expect(path)


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        ledger = plugin_state(item.config).ledger
        ledger.modules.add(str(item.path))
        if uses_codegen(item) and (path := _static_path(item)) is not None:
            ledger.not_run.add(path)
            ledger.deselected[item.nodeid] = path


# -- outcomes: keep-failed and the unused check need them ---------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not uses_codegen(item):
        return report
    phases = item.stash.setdefault(PHASE_REPORTS_KEY, {})
    phases[report.when] = report
    if report.when == "teardown":
        if "call" in phases and all(r.passed for r in phases.values()):
            plugin_state(item.config).ledger.passed.add(item.nodeid)
        del item.stash[PHASE_REPORTS_KEY]
    return report


# -- xdist: workers send their ledger, the controller merges ------------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[WORKERINPUT_KEY] = str(plugin_state(node.config).claims.directory)
    node.workerinput[IDENTITY_INPUT_KEY] = identity(node.config).to_wire()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    ledger = plugin_state(node.config).ledger
    data = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
    if data is None:
        ledger.lost_worker = True  # crashed before reporting: unused entries unknown
    else:
        ledger.merge_wire(json.loads(data) if isinstance(data, str) else data)


# -- the end of the session ---------------------------------------------------------------
def _partial_run(config: pytest.Config) -> bool:
    """Tests picked by node id (``file.py::test``): others sharing a cassette did not run."""
    return any("::" in str(arg) for arg in config.args)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = plugin_state(config)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        # one JSON string: execnet's own serializer takes about 30 µs per test for the
        # ledger's nested lists (dumped here, loaded on the controller); JSON about 2
        workeroutput[WORKEROUTPUT_KEY] = json.dumps(state.ledger.to_wire(),
                                                    separators=(",", ":"))
        return
    ident = identity(config)
    state.reports = build_reports(state.ledger, partial_run=_partial_run(config),
                                  sharded=ident.shard.sharded)
    if state.settings.report_path is not None:
        from ._run_report import build_run_report, write_run_report

        run_report = build_run_report(config, state.ledger, state.reports, ident,
                                      state.settings.cassette_dir)
        config.stash[RUN_REPORT_KEY] = (run_report, write_run_report(config, run_report))
    if (writer := ledger_writer(config)) is not None:
        writer.finish()
    if (state.settings.unused == "fail" and unused_count(state.reports)
            and session.exitstatus == pytest.ExitCode.OK):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    state = plugin_state(config)
    written = config.stash.get(RUN_REPORT_KEY, None)
    if state.reports:
        render(terminalreporter, state.reports, unused=state.settings.unused,
               report_path=written[1] if written else state.settings.report_path,
               root=config.rootpath)
    if not _is_worker(config):
        render_lifecycle(terminalreporter, identity(config), written[0] if written else None,
                         written[1] if written else None, state.ledger)
    if not _is_worker(config) and state.settings.dry_run and state.settings.records:
        render_dry_run(terminalreporter, state.ledger, root=config.rootpath)
