"""Fixtures for the plugin tests: a fake OpenAI-compatible server and a fake key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from replaycodegen.testing import FakeOpenAIServer

from .helpers import FAKE_KEY


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    return FAKE_KEY
