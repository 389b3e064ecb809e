"""The guard next to other vcrpy cassettes, nested in itself, and entered many times.

Its stubs are built once per process and swapped in per guard; inside another vcrpy
cassette (pytest-recording's ``vcr`` marker, ``vcr.use_cassette``) it steps aside, so
that cassette answers instead of the guard sending its requests past it.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from pathlib import Path
from typing import Any

import httpx2
import pytest
import vcr
import yaml

from replaycodegen.guard import LiveCallBlocked, block_live_llm_calls
from replaycodegen.testing import FakeOpenAIServer

URL = "https://api.example.com/v1/data"



@pytest.fixture
def http_cassette(tmp_path: Path) -> Path:
    """A vcrpy cassette answering ``GET URL`` with ``{"answer": 42}``."""
    interaction = {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": URL},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"content-type": ["application/json"]},
                     "body": {"string": json.dumps({"answer": 42})}},
    }
    path = tmp_path / "http.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "interactions": [interaction]}))
    return path


def _replay(path: Path) -> Any:
    return vcr.use_cassette(str(path), record_mode="none", allow_playback_repeats=True)


def test_inside_a_vcr_cassette_the_guard_steps_aside(http_cassette: Path,
                                                     no_dns: list[Any]) -> None:
    with _replay(http_cassette), block_live_llm_calls() as guard:
        assert httpx2.get(URL).json() == {"answer": 42}
        with urllib.request.urlopen(URL, timeout=5) as reply:  # http.client too
            assert json.load(reply) == {"answer": 42}
    assert guard.stepped_aside
    assert guard.blocked == []
    assert no_dns == []


def test_a_vcr_cassette_inside_the_guard_plays_back_and_the_guard_resumes(
    http_cassette: Path, no_dns: list[Any]
) -> None:
    with block_live_llm_calls("outer.yaml") as guard:
        with _replay(http_cassette):
            assert httpx2.get(URL).json() == {"answer": 42}
            with block_live_llm_calls("inner.yaml") as inner:  # steps aside: vcr answers
                assert httpx2.get(URL).json() == {"answer": 42}
        with pytest.raises(LiveCallBlocked, match=r"cassette outer\.yaml"):
            httpx2.get(URL)
    assert inner.stepped_aside and not guard.stepped_aside
    assert [b.url for b in guard.blocked] == [URL]
    assert no_dns == []


def test_nested_guards_the_innermost_decides(no_dns: list[Any]) -> None:
    with block_live_llm_calls("outer.yaml") as outer:
        with (block_live_llm_calls("inner.yaml", allow_hosts=(), fix="ask the owner") as inner,
              pytest.raises(LiveCallBlocked) as caught):
            httpx2.get(URL)
        assert str(caught.value).endswith("ask the owner")
        assert "cassette inner.yaml" in str(caught.value)
        with pytest.raises(LiveCallBlocked, match=r"cassette outer\.yaml"):
            httpx2.get(URL)
    assert (len(inner.blocked), len(outer.blocked)) == (1, 1)
    assert no_dns == []


def test_a_fix_function_is_asked_only_when_a_call_is_blocked(no_dns: list[Any]) -> None:
    asked: list[int] = []

    def fix() -> str:
        asked.append(1)
        return "run the recording command"

    with block_live_llm_calls(fix=fix):
        pass
    assert asked == []
    with block_live_llm_calls(fix=fix), pytest.raises(LiveCallBlocked) as caught:
        httpx2.get(URL)
    assert caught.value.fix == "run the recording command" and asked == [1]


def test_a_thousand_guards_block_every_time_and_leave_nothing_behind() -> None:
    originals = (http.client.HTTPConnection, httpx2.HTTPTransport.handle_request,
                 httpx2.AsyncHTTPTransport.handle_async_request)
    for n in range(1_000):
        with block_live_llm_calls(f"c{n}.yaml") as guard:
            if n in (0, 499, 999):
                with pytest.raises(LiveCallBlocked, match=f"cassette c{n}.yaml"):
                    urllib.request.urlopen(URL, timeout=5)
        assert guard.blocked or n not in (0, 499, 999)
        assert (http.client.HTTPConnection, httpx2.HTTPTransport.handle_request,
                httpx2.AsyncHTTPTransport.handle_async_request) == originals


def test_a_client_kept_across_guards_is_guarded_inside_and_free_outside() -> None:
    with FakeOpenAIServer() as server:
        client = httpx2.Client()
        with block_live_llm_calls(), pytest.raises(LiveCallBlocked):
            client.get(URL)
        with block_live_llm_calls() as guard:
            assert client.get(f"{server.base_url}/models").status_code == 200
        assert client.get(f"{server.base_url}/models").status_code == 200  # no guard now
        with block_live_llm_calls(allow_hosts=()), pytest.raises(LiveCallBlocked):
            client.get(f"{server.base_url}/models")
    assert guard.blocked == []


def test_a_first_guard_inside_a_vcr_cassette_builds_its_stubs_only_outside(
    http_cassette: Path, no_dns: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # built inside, the stubs would wrap what that cassette patched (urllib3's pools)
    import replaycodegen.guard as guard_module

    monkeypatch.setattr(guard_module, "_PATCHES", None)  # as in a fresh process
    with _replay(http_cassette), block_live_llm_calls() as inside:
        assert httpx2.get(URL).json() == {"answer": 42}
    assert inside.stepped_aside
    assert guard_module._PATCHES is None
    with block_live_llm_calls() as outside, pytest.raises(LiveCallBlocked):
        httpx2.get(URL)
    assert not outside.stepped_aside and guard_module._PATCHES is not None
