"""The guard's socket layer: a connection the HTTP stubs never see is still refused.

Each attack runs in a fresh interpreter where no HTTP library is imported when the guard
is entered (so vcrpy's stubs are not built and only the socket layer guards), and is
checked from outside: the child prints what happened as JSON.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from replaycodegen.guard import CONNECT, LiveCallBlocked, block_live_llm_calls
from replaycodegen.testing import FakeOpenAIServer

PRELUDE = """
import json, socket, sys
lookups = []
real_getaddrinfo = socket.getaddrinfo
def counting(host, *args, **kwargs):
    lookups.append(str(host))
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = counting
from replaycodegen.guard import LiveCallBlocked, block_live_llm_calls
out = {}
def attempt(name, action):
    try:
        out[name] = ["ok", action()]
    except LiveCallBlocked as exc:
        out[name] = ["blocked", str(exc), exc.method, exc.url]
    except OSError as exc:
        out[name] = ["oserror", type(exc).__name__]
"""

EPILOGUE = """
out["lookups"] = lookups
out["vcr_imported"] = "vcr" in sys.modules
out["restored"] = (socket.getaddrinfo is counting and "connect" not in vars(socket.socket)
                   and "connect_ex" not in vars(socket.socket))
print(json.dumps(out))
"""


def run_child(body: str, *args: str) -> dict[str, Any]:
    code = PRELUDE + textwrap.dedent(body) + EPILOGUE
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_client_imported_inside_the_guard_is_blocked_before_dns() -> None:
    out = run_child("""
    assert "http.client" not in sys.modules and "httpx2" not in sys.modules
    with block_live_llm_calls("c.yaml") as guard:
        import urllib.request  # imported after the guard began: no HTTP stubs for it
        attempt("urlopen", lambda: urllib.request.urlopen(
            "https://api.openai.com/v1/models", timeout=5).status)
        out["count"] = len(guard.blocked)
    """)
    status, message, method, url = out["urlopen"]
    assert status == "blocked"
    assert (method, url) == (CONNECT, "api.openai.com:443")
    assert "live connection to api.openai.com:443 blocked" in message
    assert "cassette c.yaml" in message
    assert out["count"] == 1
    assert out["lookups"] == []  # refused before any DNS query
    assert out["vcr_imported"] is False
    assert out["restored"] is True


def test_raw_sockets_to_internet_addresses_are_refused() -> None:
    out = run_child("""
    with block_live_llm_calls():
        def raw(ip, family=socket.AF_INET):
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                return sock.connect((ip, 443))
        def raw_ex():
            with socket.socket() as sock:
                sock.settimeout(2)
                return sock.connect_ex(("203.0.113.7", 80))
        attempt("ipv4", lambda: raw("203.0.113.7"))
        attempt("ipv6", lambda: raw("2001:db8::1", socket.AF_INET6))
        attempt("connect_ex", raw_ex)
        attempt("create_connection", lambda: socket.create_connection(("example.com", 80), 2))
    """)
    assert out["ipv4"][0:1] == ["blocked"] and out["ipv4"][3] == "203.0.113.7:443"
    assert out["ipv6"][0:1] == ["blocked"] and out["ipv6"][3] == "[2001:db8::1]:443"
    assert out["connect_ex"][0:1] == ["blocked"]
    assert out["create_connection"][0:1] == ["blocked"]
    assert out["lookups"] == []
    assert out["restored"] is True


def test_loopback_passes_and_an_allowed_name_keeps_working(free_port_server: str) -> None:
    out = run_child("""
    port = int(sys.argv[1])
    def fetch(host):
        import urllib.request
        with urllib.request.urlopen(f"http://{host}:{port}/v1/models", timeout=5) as reply:
            return reply.status
    with block_live_llm_calls():
        attempt("default", lambda: fetch("127.0.0.1"))
    with block_live_llm_calls(allow_hosts=("localhost",)):
        attempt("by_name", lambda: fetch("localhost"))
    with block_live_llm_calls(allow_hosts=("localhost",)):
        attempt("ip_not_named", lambda: socket.create_connection(("127.0.0.1", port), 2).close())
    with block_live_llm_calls(allow_hosts=()):
        attempt("nothing_allowed", lambda: fetch("127.0.0.1"))
    """, free_port_server)
    assert out["default"] == ["ok", 200]
    assert out["by_name"] == ["ok", 200]
    assert out["ip_not_named"][0] == "blocked"  # 127.0.0.1 is not "localhost" unless resolved
    assert out["nothing_allowed"][0] == "blocked"
    assert out["restored"] is True


@pytest.fixture
def free_port_server() -> Any:
    with FakeOpenAIServer() as server:
        yield str(server.port)


def test_the_socket_layer_is_in_place_even_with_the_http_stubs() -> None:
    # in this process httpx2 is imported, so both layers guard; a raw socket still fails
    with (block_live_llm_calls("c.yaml") as guard, pytest.raises(LiveCallBlocked) as caught,
          socket.socket() as sock):
        sock.settimeout(2)
        sock.connect(("198.51.100.9", 443))
    assert caught.value.url == "198.51.100.9:443" and guard.blocked == [caught.value]
    assert "connect" not in vars(socket.socket)


def test_a_connection_message_names_host_and_port_and_pickles() -> None:
    import pickle

    blocked = LiveCallBlocked(method=CONNECT, url="api.openai.com:443", cassette_path=None,
                              record_mode="none")
    assert "live connection to api.openai.com:443 blocked in record mode 'none'" in str(blocked)
    assert str(pickle.loads(pickle.dumps(blocked))) == str(blocked)


def test_without_vcrpy_the_socket_layer_still_blocks_an_sdk_call() -> None:
    out = run_child("""
    sys.modules["vcr"] = None  # as if vcrpy were not installed
    import httpx2
    with block_live_llm_calls("c.yaml") as guard:
        attempt("httpx2", lambda: httpx2.get("https://api.openai.com/v1/models").status_code)
    """)
    assert out["httpx2"][0] == "blocked"
    assert out["httpx2"][3] == "api.openai.com:443"
    assert out["lookups"] == []
    assert out["restored"] is True
