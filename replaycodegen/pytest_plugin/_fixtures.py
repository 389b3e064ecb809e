"""The fixtures: ``codegen``, ``codegen_config``, ``codegen_request``, ``codegen_service``,
``codegen_record_mode`` and ``codegen_cassette_path``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from replaycodegen.errors import CassetteError

from ._commands import CodegenFixes, behaviour_live_call, uncovered_live_call
from ._guard import allowed_hosts, warn_swallowed
from ._ledger import account_for_test
from ._paths import CassetteChoice, CassetteMarker, MarkerError, resolved
from ._settings import SetupError
from ._state import USED_KEY, failed_so_far, plugin_state

if TYPE_CHECKING:
    from replaycodegen.executor import PythonExecutorService
    from replaycodegen.generation.protocol import CodeGenerator
    from replaycodegen.models import PythonExecutionRequest


def _fail(request: pytest.FixtureRequest, problem: Exception) -> NoReturn:
    pytest.fail(f"replaycodegen: {request.node.nodeid}: {problem}", pytrace=False)


def _resolved(request: pytest.FixtureRequest) -> tuple[CassetteMarker, CassetteChoice]:
    try:
        return resolved(request.node, plugin_state(request.config).settings.cassette_dir)
    except MarkerError as exc:
        problem = exc  # failed outside the except block: no chained traceback
    _fail(request, problem)


def _note_legacy_name(request: pytest.FixtureRequest, choice: CassetteChoice) -> None:
    """Once per file: a cassette under the old default name, and the command to rename it."""
    import os
    import shlex

    new = choice.renamed_to
    if new is None or not plugin_state(request.config).cassettes.first_note(choice.path):
        return
    here = request.config.invocation_params.dir
    old_shown, new_shown = (shlex.quote(os.path.relpath(p, here)) for p in (choice.path, new))
    warnings.warn(pytest.PytestWarning(
        f"replaycodegen: {old_shown} is a replaycodegen cassette under the old default name; "
        f"it is used because {new.name} does not exist. Rename it, so that "
        f"pytest-recording's cassette of the same test cannot take its place: "
        f"`git mv {old_shown} {new_shown}` (or mv)"), stacklevel=1)


@pytest.fixture(scope="module")  # as pytest-recording's vcr_config: set up once per module
def codegen_config() -> dict[str, Any]:
    """Settings for this test's generator; override it like pytest-recording's ``vcr_config``
    (an override may have any scope).

    Keys: ``model``, ``base_url``, ``api_key``, ``temperature``, ``max_tokens``,
    ``timeout``, ``max_retries``, ``max_errors_in_prompt`` (the real generator);
    ``generator`` (a ``CodeGenerator`` or a function returning one, used instead of
    OpenAI when recording); ``match_on``, ``description``, ``secrets`` (the cassette);
    ``block_live_calls``, ``allowed_hosts`` (the live-call guard).
    """
    return {}


def _mode(request: pytest.FixtureRequest, marker: CassetteMarker) -> str:
    return marker.record_mode or plugin_state(request.config).settings.record_mode


@pytest.fixture
def codegen_record_mode(request: pytest.FixtureRequest) -> str:
    """This test's record mode: its marker's ``record_mode``, else ``--codegen-record-mode``."""
    return _mode(request, _resolved(request)[0])


@pytest.fixture
def codegen_cassette_path(request: pytest.FixtureRequest) -> Path:
    """The absolute path of the cassette this test replays or records."""
    return _resolved(request)[1].path


@pytest.fixture
def codegen(request: pytest.FixtureRequest, codegen_config: Any) -> Iterator[CodeGenerator]:
    """The generator for this test: replays its cassette (record mode ``none``) or records
    into it through the real generator; ``behavior=`` on the marker serves a shipped one."""
    from ._config import checked_config
    from ._generators import open_generator  # imported when first needed

    # mode and path worked out here, not by asking for their fixtures: a fixture per test
    # costs more than the rest of the plugin's work
    state = plugin_state(request.config)
    node = request.node
    marker, choice = _resolved(request)
    codegen_record_mode, codegen_cassette_path = _mode(request, marker), choice.path
    fixes = CodegenFixes(node, codegen_cassette_path, marker.record_mode)
    problem: Exception | None = None
    try:
        config = checked_config(codegen_config)
        hosts = allowed_hosts(config)
        handle = open_generator(
            path=codegen_cassette_path, marker=marker, mode=codegen_record_mode,
            config=config, settings=state.settings, claims=state.claims, test_id=node.nodeid,
            cassettes=state.cassettes, fixes=fixes)
    except (SetupError, CassetteError) as exc:
        problem = exc  # failed outside the except block: no chained traceback
    if problem is not None:
        _fail(request, problem)
    node.stash[USED_KEY] = True
    if marker.behavior is None:
        _note_legacy_name(request, choice)
        fix = fixes.live_call
    else:
        behavior = marker.behavior
        fix = lambda: behaviour_live_call(node, behavior)  # noqa: E731
    blocked = []
    try:
        with state.guards.around_test(handle.path, codegen_record_mode, config, hosts,
                                      fix) as blocked:
            yield handle.generator
    finally:
        failed = failed_so_far(node)
        handle.close()
        if failed and not state.settings.keep_failed:
            handle.drop_recorded()
        account_for_test(request.config, node.nodeid, handle)
    if blocked and not failed:
        warn_swallowed(node.nodeid, blocked)


class GuardEveryTest:
    """Registered as a plugin only with ``--codegen-guard=all`` in record mode ``none``:
    the guard around every test, not only those that use ``codegen`` (which nest their
    own, naming their cassette). Not an autouse fixture otherwise, which every test of
    every suite would pay for."""

    @pytest.fixture(autouse=True)
    def _codegen_guard_every_test(self, request: pytest.FixtureRequest) -> Iterator[None]:
        from ._config import checked_config

        state = plugin_state(request.config)
        try:  # asked for only here: an overridden codegen_config may need costly fixtures
            config = checked_config(request.getfixturevalue("codegen_config"))
            hosts = allowed_hosts(config)
        except SetupError as exc:
            problem = exc  # failed outside the except block: no chained traceback
        else:
            node = request.node
            with state.guards.around_test(None, "none", config, hosts,
                                          lambda: uncovered_live_call(node)):
                yield
            return
        _fail(request, problem)


@pytest.fixture
def codegen_request() -> PythonExecutionRequest:
    """A small sample request (the same in every test, so one recording serves many)."""
    from replaycodegen.models import PythonExecutionRequest

    return PythonExecutionRequest(
        user_query="Compute the mean of the numbers 1 to 10",
        task_objective="Store the mean of 1..10 in results['value']",
        execution_folder_name="codegen_request",
        expected_results={"value": "the mean, a float"},
    )


@pytest.fixture
def codegen_service(codegen: CodeGenerator, tmp_path: Path) -> PythonExecutorService:
    """A ``PythonExecutorService`` that generates with ``codegen``; its execution folders
    go under the test's ``tmp_path`` (``executions/``) unless the config names a root."""
    from replaycodegen.executor import PythonExecutorService

    return PythonExecutorService(generator=codegen, execution_root=tmp_path / "executions")
