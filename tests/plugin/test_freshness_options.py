"""The plugin's freshness options: a session budget shared by xdist workers, record mode
``stale`` with ``--codegen-prompt-builder``, dry runs, and rewrite keeping hand entries."""

from __future__ import annotations

import re

import pytest

from replaycodegen import Cassette, Entry, Pattern
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.testing import FakeOpenAIServer, last_user_message

from .helpers import codes_by_query, make_project

SIX = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

@pytest.mark.parametrize("n", range(6))
async def test_ask(codegen, ask, n):
    await codegen.generate_code(ask(f"q{n}"), [])
"""

PROMPTS = """
from replaycodegen import PromptBuilder

class BriefAboutBeams(PromptBuilder):
    version = "beams-2"

    def render_task(self, request):
        text = super().render_task(request)
        return text + "\\nBe brief." if "beam" in request.user_query else text
"""

THREE = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")

@pytest.mark.parametrize("query", ["beam current", "beam energy", "vacuum"])
async def test_ask(codegen, ask, query):
    assert "results" in await codegen.generate_code(ask(query), [])
"""


def test_a_budget_of_three_calls_holds_across_xdist_workers(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_six=SIX)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--codegen-record-mode=new_episodes", "--codegen-max-calls=3",
        f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(passed=3, failed=3)
    assert len(fake_server.requests) == 3  # never a live call past the budget
    assert len(codes_by_query(root / "cassettes/test_six/shared.yaml")) == 3
    result.stdout.fnmatch_lines(["*BudgetExceeded: recording budget used up: 3 live calls "
                                 "made, the limit is 3 (max calls); request 'q*"])


def test_stale_mode_rerecords_only_the_entries_the_prompt_change_reaches(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_three=THREE, prompts=PROMPTS)
    base = f"--codegen-base-url={fake_server.base_url}"
    pytester.runpytest("--codegen-record-mode=new_episodes", base).assert_outcomes(passed=3)
    cassette = root / "cassettes/test_three/shared.yaml"
    text = "# hand-written note\n" + cassette.read_text(encoding="utf-8")
    cassette.write_text(text, encoding="utf-8")
    vacuum = re.search(r"(?ms)^  - id: e3\n.*", text)
    assert vacuum is not None
    fake_server.reset()

    result = pytester.runpytest("--codegen-record-mode=stale", base,
                                "--codegen-prompt-builder=prompts:BriefAboutBeams")
    result.assert_outcomes(passed=3)
    prompts = [last_user_message(body) for body in fake_server.requests]
    assert len(prompts) == 2 and all("Be brief." in p for p in prompts)
    after = cassette.read_text(encoding="utf-8")
    assert after.startswith("# hand-written note\n")
    assert after.endswith(vacuum.group(0))  # the vacuum entry, byte for byte
    assert after.count("prompt_version: beams-2") == 2

    fake_server.reset()
    again = pytester.runpytest("--codegen-record-mode=stale", base,
                               "--codegen-prompt-builder=prompts:BriefAboutBeams")
    again.assert_outcomes(passed=3)
    assert fake_server.requests == []  # everything is fresh now


def test_a_dry_run_calls_nothing_writes_nothing_and_needs_no_key(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    root = make_project(pytester, test_three=THREE)
    result = pytester.runpytest("--codegen-record-mode=new_episodes", "--codegen-dry-run",
                                f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*WouldGoLive: dry run: request 'beam current' (attempt 1) "
                                 "for *shared.yaml would call the real generator (not in the "
                                 "cassette); nothing was called*"])
    assert fake_server.requests == []
    assert not (root / "cassettes").exists()
    result.stdout.fnmatch_lines([
        "*= replaycodegen dry run =*",
        "3 calls would have gone live, into 1 cassette (nothing was called or written):",
        "  test_three.py::test_ask?beam current?: request 'beam current' (attempt 1) -> "
        "cassettes/test_three/shared.yaml (not in the cassette)",
        "  test_three.py::test_ask?beam energy?: request 'beam energy' (attempt 1) -> *",
        "  test_three.py::test_ask?vacuum?: request 'vacuum' (attempt 1) -> *",
    ])


def test_a_dry_run_across_xdist_workers_lists_every_call_once(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make_project(pytester, test_three=THREE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--codegen-record-mode=new_episodes", "--codegen-dry-run",
        f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["3 calls would have gone live, into 1 cassette*"])
    assert sum("(attempt 1) ->" in line for line in result.stdout.lines) == 3
    assert fake_server.requests == []


def test_the_token_budget_holds_in_the_plugin(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_three=THREE)
    result = pytester.runpytest("--codegen-record-mode=new_episodes", "--codegen-max-tokens=1",
                                f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(passed=1, failed=2)
    assert len(fake_server.requests) == 1  # the first call's tokens used the budget up
    assert len(codes_by_query(root / "cassettes/test_three/shared.yaml")) == 1
    result.stdout.fnmatch_lines(["*BudgetExceeded: recording budget used up: *max tokens*"])


def test_rewrite_keeps_hand_entries(pytester: pytest.Pytester, fake_server: FakeOpenAIServer,
                                    api_key: str) -> None:
    root = make_project(pytester, test_three=THREE)
    cassette = root / "cassettes/test_three/shared.yaml"
    hand = Entry(id="vacuum-by-hand", code="results = {'pressure': 1e-9}",
                 when=Pattern(request={"user_query": "vacuum"}))
    CassetteStore(cassette).write(Cassette([hand], path=str(cassette)))
    result = pytester.runpytest("--codegen-record-mode=rewrite",
                                f"--codegen-base-url={fake_server.base_url}")
    result.assert_outcomes(passed=3)
    assert len(fake_server.requests) == 2  # the hand entry answered 'vacuum'
    assert "- id: vacuum-by-hand" in cassette.read_text(encoding="utf-8")


@pytest.mark.parametrize(("option", "message"), [
    ("--codegen-max-calls=many", "--codegen-max-calls = 'many' is not a whole number >= 0"),
    ("--codegen-max-age=soon", "--codegen-max-age: invalid max age 'soon'"),
])
def test_bad_values_are_usage_errors(pytester: pytest.Pytester, option: str,
                                     message: str) -> None:
    make_project(pytester, test_three=THREE)
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_stale_mode_with_max_age_rerecords_only_the_old_entry(
    pytester: pytest.Pytester, fake_server: FakeOpenAIServer, api_key: str
) -> None:
    root = make_project(pytester, test_three=THREE)
    base = f"--codegen-base-url={fake_server.base_url}"
    pytester.runpytest("--codegen-record-mode=new_episodes", base).assert_outcomes(passed=3)
    cassette = root / "cassettes/test_three/shared.yaml"
    text = cassette.read_text(encoding="utf-8")
    start = text.index("  - id: e2\n")
    stamp = re.compile(r"recorded_at: '[^']+'")
    found = stamp.search(text, start)
    assert found is not None
    cassette.write_text(text[:found.start()] + "recorded_at: '2020-01-01T00:00:00Z'"
                        + text[found.end():], encoding="utf-8")
    fake_server.reset()
    result = pytester.runpytest("--codegen-record-mode=stale", base, "--codegen-max-age=90d")
    result.assert_outcomes(passed=3)
    assert [last_user_message(b).count("beam energy") > 0 for b in fake_server.requests] == [
        True]  # e2, 'beam energy', was the only expired entry
    assert "2020-01-01" not in cassette.read_text(encoding="utf-8")
