"""Recording against a fake OpenAI-compatible server on 127.0.0.1, then replaying offline."""

from __future__ import annotations

import pytest

from replaycodegen.testing import DEFAULT_CODE, FakeOpenAIServer

from .helpers import FAKE_KEY, codes_by_query, make_project, write_cassette

ONE_REQUEST = """
async def test_beam(codegen, ask):
    assert "results" in await codegen.generate_code(ask("q1"), [])
"""


def test_record_then_replay_with_the_server_stopped(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_rec=ONE_REQUEST)
    fake_server.queue_response("Here you go:\n```python\nresults = {'beam': 1}\n```")
    recorded = pytester.runpytest("--codegen-record-mode=once",
                                  f"--codegen-base-url={fake_server.base_url}")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(
        ["  cassettes/test_rec/test_beam.codegen.yaml: 0 played, 1 recorded*"])
    cassette = root / "cassettes/test_rec/test_beam.codegen.yaml"
    assert codes_by_query(cassette) == {"q1": "results = {'beam': 1}"}
    assert fake_server.headers_seen[0]["authorization"] == f"Bearer {FAKE_KEY}"
    assert FAKE_KEY not in cassette.read_text(encoding="utf-8")

    fake_server.stop()
    replayed = pytester.runpytest()
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines(["1 cassette used: 1 played, 0 recorded, 0 misses, 0 unused"])


def test_recording_without_a_key_stops_before_any_test_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make_project(pytester, test_nokey="def test_x(codegen):\n    open('ran', 'w').close()\n")
    result = pytester.runpytest("--codegen-record-mode=new_episodes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: replaycodegen: record mode 'new_episodes' calls the real model and needs an "
        "API key, but OPENAI_API_KEY is not set.",
        "  fix: export OPENAI_API_KEY=...*--codegen-record-mode=none.",
    ])
    assert not (pytester.path / "ran").exists()


CONFIG_KEY = "sk-fake-codegen-config-0123456789"


def test_marker_record_mode_and_a_key_from_codegen_config(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make_project(pytester, test_marked="""
import pytest

@pytest.fixture
def codegen_config():
    return {"api_key": "<CONFIG_KEY>"}

@pytest.mark.codegen_cassette(record_mode="new_episodes")
async def test_records(codegen, ask, codegen_record_mode):
    assert codegen_record_mode == "new_episodes"
    await codegen.generate_code(ask("q1"), [])
""".replace("<CONFIG_KEY>", CONFIG_KEY))
    result = pytester.runpytest(f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 played, 1 recorded*"])
    assert fake_server.headers_seen[0]["authorization"] == f"Bearer {CONFIG_KEY}"


FAILING = """
async def test_breaks(codegen, ask):
    await codegen.generate_code(ask("q0"), [])
    await codegen.generate_code(ask("q1"), [])
    await codegen.generate_code(ask("q2"), [])
    assert False, "a broken test"
"""


@pytest.mark.parametrize(("options", "kept"), [
    ((), {"q0"}),
    (("--codegen-keep-failed",), {"q0", "q1", "q2"}),
], ids=["default-drops", "keep-failed"])
def test_a_failing_test_keeps_what_it_recorded_only_if_asked(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str,
    options: tuple[str, ...], kept: set[str],
) -> None:
    root = make_project(pytester, test_fail=FAILING)
    cassette = root / "cassettes/test_fail/test_breaks.codegen.yaml"
    write_cassette(cassette, {"q0": "old = 0"})
    result = pytester.runpytest("--codegen-record-mode=new_episodes",
                                f"--codegen-base-url={fake_server.base_url}", *options)
    result.assert_outcomes(failed=1)
    assert set(codes_by_query(cassette)) == kept
    if kept == {"q0"}:
        result.stdout.fnmatch_lines(["*1 played, 0 recorded, 0 misses, ? unused, "
                                     "2 dropped (failed tests)"])


def test_a_failing_test_in_mode_all_leaves_the_old_recording_in_place(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_fail=FAILING)
    cassette = root / "cassettes/test_fail/test_breaks.codegen.yaml"
    write_cassette(cassette, {"q0": "old = 0", "q9": "other = 9"})
    result = pytester.runpytest("--codegen-record-mode=all",
                                f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(failed=1)
    assert len(fake_server.requests) == 3  # mode all re-recorded q0 too
    assert codes_by_query(cassette) == {"q0": "old = 0", "q9": "other = 9"}


SHARED = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

async def test_one(codegen, ask):
    await codegen.generate_code(ask("q1"), [])

async def test_two(codegen, ask):
    await codegen.generate_code(ask("q2"), [])
"""


def test_once_and_rewrite_act_once_per_session_on_a_shared_cassette(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_shared=SHARED)
    cassette = root / "cassettes/test_shared/shared.yaml"
    url = f"--codegen-base-url={fake_server.base_url}"

    pytester.runpytest("--codegen-record-mode=once", url).assert_outcomes(passed=2)
    assert set(codes_by_query(cassette)) == {"q1", "q2"}

    write_cassette(cassette, {"q1": "old = 1", "stale": "old = 2"})
    pytester.runpytest("--codegen-record-mode=rewrite", url).assert_outcomes(passed=2)
    assert codes_by_query(cassette) == {"q1": DEFAULT_CODE, "q2": DEFAULT_CODE}

    calls = len(fake_server.requests)
    pytester.runpytest("--codegen-record-mode=once", url).assert_outcomes(passed=2)
    assert len(fake_server.requests) == calls


def test_codegen_config_can_swap_the_real_generator(pytester: pytest.Pytester) -> None:
    root = make_project(pytester, test_custom="""
import pytest
from replaycodegen import MockCodeGenerator

@pytest.fixture
def codegen_config():
    return {"generator": lambda: MockCodeGenerator(behavior="success"),
            "description": "Recorded from the success behaviour"}

async def test_records(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
""")
    result = pytester.runpytest("--codegen-record-mode=once", "--codegen-api-key-env=")
    result.assert_outcomes(passed=1)
    cassette = root / "cassettes/test_custom/test_records.codegen.yaml"
    assert "results = {" in codes_by_query(cassette)["q1"]
    assert "description: Recorded from the success behaviour" in cassette.read_text()


MATCH_ON_MARKER = """
import pytest
from replaycodegen import PythonExecutionRequest

@pytest.mark.codegen_cassette(match_on=["user_query"])
async def test_keyed_on_the_query_only(codegen):
    request = PythonExecutionRequest(user_query="q1", task_objective=OBJECTIVE,
                                     execution_folder_name="f")
    assert "results" in await codegen.generate_code(request, [])
"""


def test_marker_match_on_decides_which_fields_form_the_key(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_keys=MATCH_ON_MARKER.replace("OBJECTIVE", "'mean'"))
    pytester.runpytest("--codegen-record-mode=once",
                       f"--codegen-base-url={fake_server.base_url}").assert_outcomes(passed=1)
    cassette = root / "cassettes/test_keys/test_keyed_on_the_query_only.codegen.yaml"
    assert "match_on:\n- user_query\nentries:" in cassette.read_text(encoding="utf-8")
    fake_server.stop()
    # another objective still replays: only user_query is in the key
    (root / "test_keys.py").write_text(MATCH_ON_MARKER.replace("OBJECTIVE", "'median'"))
    pytester.runpytest().assert_outcomes(passed=1)
    # and the query is: a different one misses
    (root / "test_keys.py").write_text(
        MATCH_ON_MARKER.replace("OBJECTIVE", "'mean'").replace('user_query="q1"',
                                                               'user_query="q2"'))
    missed = pytester.runpytest()
    missed.assert_outcomes(failed=1)
    missed.stdout.fnmatch_lines(["*CassetteMiss*"])


SECRET_QUERY = """
import pytest

@pytest.fixture
def codegen_config():
    return {"secrets": ["hunter2-site-password"]}

async def test_secret(codegen, ask):
    assert "results" in await codegen.generate_code(ask("log in with hunter2-site-password"), [])
"""


def test_codegen_config_secrets_are_scrubbed_when_recording_and_replay_still_hits(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_sec=SECRET_QUERY)
    fake_server.queue_response("```python\nresults = {'ok': 1}\n```")
    recorded = pytester.runpytest("--codegen-record-mode=once",
                                  f"--codegen-base-url={fake_server.base_url}")
    recorded.assert_outcomes(passed=1)
    text = (root / "cassettes/test_sec/test_secret.codegen.yaml").read_text(encoding="utf-8")
    assert "hunter2-site-password" not in text and "<SCRUBBED>" in text

    # offline replay scrubs the live request the same way, so the scrubbed entry answers
    fake_server.stop()
    replayed = pytester.runpytest()
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines(["1 cassette used: 1 played, 0 recorded, 0 misses, 0 unused"])
