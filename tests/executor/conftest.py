"""Fixtures for the executor tests: a config builder, a request, an execution root."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.models import PythonExecutionRequest

ConfigFactory = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session", autouse=True)
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The service's matplotlib font cache goes to a cache home of this test session,
    not to the user's ~/.cache."""
    home = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        yield home


@pytest.fixture
def execution_root(tmp_path: Path) -> Path:
    """Where this test's execution folders go (nothing exists until code runs)."""
    return tmp_path / "executions"


@pytest.fixture
def make_config(execution_root: Path) -> ConfigFactory:
    """Build a service config in the seed's shape; execution keys go in as keywords."""

    def build(
        *,
        approval: str = "control_writes",
        thread_id: str | None = "t1",
        channels: dict[str, Any] | None = None,
        **execution: Any,
    ) -> dict[str, Any]:
        execution = {
            "execution_method": "local",
            "execution_root": str(execution_root),
            "timeout_seconds": 10,
            **execution,
        }
        configurable: dict[str, Any] = {"execution": execution, "approval": {"mode": approval}}
        if channels is not None:
            configurable["control_system"] = {"channels": channels}
        config: dict[str, Any] = {"configurable": configurable}
        if thread_id is not None:
            config["thread_id"] = thread_id
        return config

    return build


@pytest.fixture
def exec_request() -> PythonExecutionRequest:
    return PythonExecutionRequest(
        user_query="Calculate test value",
        task_objective="Test computation",
        execution_folder_name="executor-test",
    )
