"""The ``codegen_service`` fixture keeps its execution folders under the test's tmp_path."""

from __future__ import annotations

import pytest

from .helpers import make_project

SERVICE_TEST = """
import pytest


@pytest.mark.codegen_cassette(behavior="success")
async def test_folders_under_tmp_path(codegen_service, codegen_request, tmp_path):
    result = await codegen_service.ainvoke(codegen_request, {"thread_id": "t"})
    folder = result.execution_result.folder_path
    assert folder.parent == tmp_path / "executions"
    assert (folder.parent.stat().st_mode & 0o777) == 0o700
"""


def test_the_service_fixture_puts_execution_folders_under_tmp_path(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, test_service_root=SERVICE_TEST)

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
