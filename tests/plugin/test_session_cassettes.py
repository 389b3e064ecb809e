"""Each cassette file is read and parsed once per session; every test plays it from the
start; a file that changed during the session (a recording test wrote to it) is read again."""

from __future__ import annotations

import pytest

from replaycodegen.pytest_plugin._state import plugin_state

from .helpers import make_project, write_cassette

SHARED = """
import pytest

pytestmark = pytest.mark.codegen_cassette("shared")


@pytest.mark.parametrize("n", range(20))
async def test_shared(codegen, ask, n):
    assert await codegen.generate_code(ask("q1"), []) == "one = 1"
    assert codegen.get_generation_metadata()["repeated"] is False  # its own playback state
"""

OWN = """
async def test_own(codegen, ask):
    assert await codegen.generate_code(ask("q2"), []) == "two = 2"
"""


def test_a_shared_cassette_is_parsed_once_and_each_test_plays_it_from_the_start(
    pytester: pytest.Pytester,
) -> None:
    root = make_project(pytester, test_once=SHARED, test_own=OWN)
    write_cassette(root / "cassettes/test_once/shared.yaml", {"q1": "one = 1"})
    write_cassette(root / "cassettes/test_own/test_own.codegen.yaml", {"q2": "two = 2"})
    reprec = pytester.inline_run()
    reprec.assertoutcome(passed=21)
    config = reprec.getcalls("pytest_unconfigure")[0].config
    assert plugin_state(config).cassettes.parses == 2


GROWS = """
import pytest

pytestmark = pytest.mark.codegen_cassette("grows")


async def test_1_replays_first(codegen, ask):
    assert await codegen.generate_code(ask("q1"), []) == "one = 1"


@pytest.mark.codegen_cassette(record_mode="new_episodes")
async def test_2_records(codegen, ask):
    assert await codegen.generate_code(ask("q2"), []) == "two = 2"


async def test_3_replays_what_was_recorded(codegen, ask):
    assert await codegen.generate_code(ask("q2"), []) == "two = 2"
"""

GENERATOR = """

class Scripted:
    async def generate_code(self, request, error_chain):
        return "two = 2"

    def get_generation_metadata(self):
        return {}


@pytest.fixture
def codegen_config():
    return {"generator": Scripted()}
"""


def test_a_cassette_written_during_the_session_is_read_again(
    pytester: pytest.Pytester,
) -> None:
    root = make_project(pytester, test_grows=GROWS)
    (root / "conftest.py").write_text((root / "conftest.py").read_text() + GENERATOR)
    write_cassette(root / "cassettes/test_grows/grows.yaml", {"q1": "one = 1"})
    reprec = pytester.inline_run("-p", "no:randomly")
    reprec.assertoutcome(passed=3)
    config = reprec.getcalls("pytest_unconfigure")[0].config
    assert plugin_state(config).cassettes.parses == 2
