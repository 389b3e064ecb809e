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
ORIGINALS = {name: getattr(socket, name) for name in
             ("gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")}
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
out["restored"] = (socket.getaddrinfo is counting
                   and all(getattr(socket, n) is f for n, f in ORIGINALS.items())
                   and not {"connect", "connect_ex", "sendto", "sendmsg"}
                   & set(vars(socket.socket)))
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


# -- round-three review: each way past the socket layer that was found, now closed --------
# A listener on 127.0.0.5 (loopback, but not an allowed host) tells from outside whether a
# connection or a datagram got through; every attack must raise LiveCallBlocked and be
# recorded, and the listener must see nothing.

LISTENERS = """
import threading
tcp = socket.socket(); tcp.bind(("127.0.0.5", 0)); tcp.listen(8); tcp.settimeout(0.3)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.5", 0))
udp.settimeout(0.3)
TCP, UDP = tcp.getsockname(), udp.getsockname()
def arrived():
    got = []
    try:
        conn, _ = tcp.accept(); conn.close(); got.append("tcp")
    except OSError:
        pass
    try:
        udp.recvfrom(64); got.append("udp")
    except OSError:
        pass
    return got
def raw(address=None):
    with socket.socket() as s:
        s.settimeout(2); s.connect(TCP if address is None else address)
"""


def run_attack(body: str) -> dict[str, Any]:
    return run_child(LISTENERS + textwrap.dedent(body))


def test_a_mocked_http_connection_does_not_switch_the_socket_layer_off() -> None:
    out = run_attack("""
    from unittest import mock
    with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as g:
        with mock.patch("http.client.HTTPConnection"):
            attempt("mock_inside", raw)
    with mock.patch("http.client.HTTPConnection"), \\
            block_live_llm_calls(allow_hosts=("127.0.0.1",)) as h:
        attempt("mock_before", raw)
        out["stepped_aside"] = h.stepped_aside
    out["arrived"] = arrived()
    """)
    assert out["mock_inside"][0] == "blocked" and out["mock_before"][0] == "blocked"
    assert out["stepped_aside"] is False
    assert out["arrived"] == []
    assert out["restored"] is True


def test_guards_configured_alike_nest_and_each_records_its_own_calls() -> None:
    out = run_attack("""
    with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as outer:
        with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as quiet:
            pass  # equal to the outer guard when it ends: it must not end that one
        with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as inner:
            attempt("inner", raw)
        attempt("outer", raw)
    out["counts"] = [len(outer.blocked), len(inner.blocked), len(quiet.blocked)]
    out["arrived"] = arrived()
    """)
    assert out["inner"][0] == out["outer"][0] == "blocked"
    assert out["counts"] == [1, 1, 0]
    assert out["arrived"] == [] and out["restored"] is True


def test_datagrams_and_tcp_fast_open_are_refused() -> None:
    out = run_attack("""
    with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as g:
        dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attempt("sendto", lambda: dgram.sendto(b"x", UDP))
        attempt("sendto_flags", lambda: dgram.sendto(b"x", 0, UDP))
        attempt("sendmsg", lambda: dgram.sendmsg([b"x"], [], 0, UDP))
        fast = socket.socket()
        attempt("fast_open", lambda: fast.sendto(b"x", getattr(socket, "MSG_FASTOPEN", 0),
                                                 TCP))
        out["count"] = len(g.blocked)
    out["arrived"] = arrived()
    """)
    for name in ("sendto", "sendto_flags", "sendmsg", "fast_open"):
        assert out[name][0] == "blocked", (name, out[name])
    assert out["count"] == 4 and out["arrived"] == [] and out["restored"] is True


def test_every_name_lookup_is_refused_before_dns() -> None:
    out = run_child("""
    with block_live_llm_calls() as g:
        attempt("byname", lambda: socket.gethostbyname("exfil-secret.example.com"))
        attempt("byname_ex", lambda: socket.gethostbyname_ex("api.openai.com"))
        attempt("byaddr", lambda: socket.gethostbyaddr("203.0.113.7"))
        attempt("nameinfo", lambda: socket.getnameinfo(("203.0.113.7", 443), 0))
        attempt("loopback", lambda: socket.gethostbyname("localhost"))
        out["count"] = len(g.blocked)
    """)
    for name in ("byname", "byname_ex", "byaddr", "nameinfo"):
        assert out[name][0] == "blocked", (name, out[name])
    assert out["byname"][3] == "exfil-secret.example.com:-"
    assert out["loopback"][0] == "ok" and out["count"] == 4
    assert out["lookups"] == [] and out["restored"] is True


def test_the_innermost_guard_decides_even_for_addresses_an_outer_one_resolved() -> None:
    out = run_attack("""
    port = TCP[1]
    with block_live_llm_calls(allow_hosts=("localhost",)):
        socket.getaddrinfo("localhost", port)  # notes 127.0.0.1 for the outer guard
        with block_live_llm_calls(allow_hosts=()) as inner:
            attempt("inner", lambda: socket.create_connection(("127.0.0.1", port), 2))
    out["blocked"] = len(inner.blocked)
    """)
    assert out["inner"][0] == "blocked" and out["blocked"] == 1


def test_a_playback_vcr_cassette_inside_the_guard_lets_no_raw_socket_through(
    tmp_path: Any,
) -> None:
    cassette = tmp_path / "empty.yaml"
    cassette.write_text("interactions: []\nversion: 1\n")
    out = run_attack(f"""
    import vcr
    with block_live_llm_calls(allow_hosts=("127.0.0.1",)) as g:
        with vcr.use_cassette({str(cassette)!r}, record_mode="none"):
            attempt("raw", raw)
    out["arrived"] = arrived()
    """)
    assert out["raw"][0] == "blocked" and out["arrived"] == []


def test_a_host_that_shows_the_check_another_text_is_refused() -> None:
    out = run_attack("""
    class Sly(str):
        def __str__(self):
            return "127.0.0.1"
        def lower(self):
            return "127.0.0.1"
    with block_live_llm_calls(allow_hosts=("127.0.0.1",)):
        attempt("sly", lambda: raw((Sly("127.0.0.5"), TCP[1])))
    out["arrived"] = arrived()
    """)
    assert out["sly"][0] == "blocked" and out["arrived"] == []
