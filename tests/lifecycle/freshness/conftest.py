"""Command-line fixtures (an isolated folder, ``invoke``) and a fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replaycodegen.testing import FakeOpenAIServer
from tests.cli.conftest import invoke, isolated

__all__ = ["invoke", "isolated"]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running
