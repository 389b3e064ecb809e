"""The seed README's service snippets, with osprey.services.python_executor -> replaycodegen."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest.mock import patch

import pytest

import replaycodegen
from replaycodegen import PythonExecutionRequest
from replaycodegen.errors import ApprovalRequired
from replaycodegen.executor import PythonExecutorService as ExecutorPackageService
from replaycodegen.generation import MockCodeGenerator

from .conftest import ConfigFactory

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def default_root_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seed config sets no execution_root: keep the default temp dir inside tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_service_is_exported_from_the_package() -> None:
    assert replaycodegen.PythonExecutorService is ExecutorPackageService


async def test_seed_integration_example(default_root_in_tmp: Path) -> None:
    mock_gen = MockCodeGenerator(behavior="success")
    request = PythonExecutionRequest(
        user_query="Calculate test value",
        task_objective="Test computation",
        execution_folder_name="test",
    )

    with patch("replaycodegen.generation.create_code_generator", return_value=mock_gen):
        service = replaycodegen.PythonExecutorService()

        result = await service.ainvoke(
            request,
            config={
                "thread_id": "test",
                "configurable": {"execution": {"execution_method": "local"}},
            },
        )

        assert result.execution_result is not None
        assert mock_gen.call_count >= 1
    assert result.execution_result.folder_path.is_relative_to(default_root_in_tmp)


async def test_seed_approval_example(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    generator = MockCodeGenerator(behavior="channel_write")

    with patch("replaycodegen.generation.create_code_generator", return_value=generator):
        service = ExecutorPackageService()
        with pytest.raises(ApprovalRequired):
            await service.ainvoke(exec_request, make_config())
        result = await service.aresume("t1", approved=True)

    assert result.execution_result.channel_writes


async def test_the_real_factory_builds_the_configured_mock(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    config = make_config(code_generator="mock", generators={"mock": {"behavior": "channel_read"}})

    result = await ExecutorPackageService().ainvoke(exec_request, config)

    assert result.execution_result.results["value"] == 42
    assert result.execution_result.results["beam_current"] == 500.0
