"""'Did you mean' for marker keywords, behaviours, codegen_config keys and CLI commands;
the marker takes both spellings of behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .helpers import make_project

MARKERS = """
import pytest


@pytest.mark.codegen_cassette(behaviour="success")
async def test_british_spelling(codegen, codegen_request):
    assert "results" in await codegen.generate_code(codegen_request, [])


@pytest.mark.codegen_cassette(behaviuor="success")
def test_typo(codegen):
    pass


@pytest.mark.codegen_cassette(behavior="sucess")
def test_unknown_behaviour(codegen):
    pass


@pytest.mark.codegen_cassette(behaviour="success", behavior="success")
def test_both_spellings(codegen):
    pass
"""

CONFIG = """
import pytest


@pytest.fixture
def codegen_config():
    return {"allowed_host": ["api.example.com"], "colour": "red"}


def test_config(codegen):
    pass
"""


def test_marker_and_config_mistakes_get_a_suggestion(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_markers=MARKERS, test_config=CONFIG)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=4)
    result.stdout.fnmatch_lines_random([
        "*test_typo: @pytest.mark.codegen_cassette: unknown keyword 'behaviuor' (did you mean "
        "'behavior'?); valid: path, behavior, match_on, record_mode",
        "*test_unknown_behaviour: @pytest.mark.codegen_cassette: unknown behavior 'sucess' "
        "(did you mean 'success'?); available: success, *",
        "*test_both_spellings: @pytest.mark.codegen_cassette: behaviour= and behavior= are one "
        "keyword; give it once",
        "*test_config: codegen_config: unknown keys 'allowed_host' (did you mean "
        "'allowed_hosts'?), 'colour'; valid: model, *",
    ])


@pytest.mark.parametrize(("typed", "suggested"), [("rcord", "record"), ("behaviours", "behaviors")])
def test_an_unknown_command_gets_a_suggestion(typed: str, suggested: str) -> None:
    done = subprocess.run([sys.executable, "-m", "replaycodegen.cli", typed],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"No such command {typed!r}. Did you mean {suggested!r}?" in done.stderr
    assert "Commands: run, record, ls," in done.stderr


def test_mock_code_generator_suggests_a_behaviour_and_keeps_the_seed_message() -> None:
    from replaycodegen import MockCodeGenerator

    with pytest.raises(ValueError, match=r"^Unknown behavior: sucess\. Available: success, .*"
                                         r"Did you mean 'success'\?$"):
        MockCodeGenerator(behavior="sucess")
