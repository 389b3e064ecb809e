"""What the pytest plugin writes: `rewrite` refuses a cassette it cannot load (issue 11.6),
and a secret in a parametrize id reaches neither the cassette nor its name (issue 11.5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from replaycodegen.testing import FakeOpenAIServer

from ..plugin.helpers import FAKE_KEY, make_project, read_report

PARAM_KEY = "sk-proj-" + "ParamKey0123456789abcdefGHIJKLmn"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with FakeOpenAIServer() as fake:
        yield fake


CORRUPT = {
    "yaml": "version: 1\nentries:\n  - id: e1\n    code: [unclosed\n",
    "schema": "version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    bogus: 1\n",
    "version": "version: 7\nentries: []\n",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_rewrite_refuses_a_cassette_it_cannot_load(
    pytester: pytest.Pytester, server: FakeOpenAIServer, kind: str
) -> None:
    root = make_project(pytester, test_corrupt="""
async def test_it(codegen, ask):
    await codegen.generate_code(ask("q1"), [])
""")
    cassette = root / "cassettes/test_corrupt/test_it.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(CORRUPT[kind])
    result = pytester.runpytest("--codegen-record-mode=rewrite",
                                f"--codegen-base-url={server.base_url}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"*{cassette}:*: record mode 'rewrite' will not replace a cassette it cannot load: *; "
        f"fix: repair it (`replaycodegen lint {cassette}` names the problem) or delete the "
        "file to record it afresh",
    ])
    assert cassette.read_text() == CORRUPT[kind]
    assert server.requests == []


def test_a_key_in_a_parametrize_id_is_written_nowhere(
    pytester: pytest.Pytester, server: FakeOpenAIServer
) -> None:
    root = make_project(pytester, test_param=f"""
import pytest

@pytest.mark.parametrize("token", ["{PARAM_KEY}"])
async def test_call(codegen, ask, token):
    await codegen.generate_code(ask("q1"), [])
""")
    report = root / "report.json"
    result = pytester.runpytest("--codegen-record-mode=once",
                                f"--codegen-base-url={server.base_url}",
                                f"--codegen-report={report}")
    result.assert_outcomes(passed=1)
    written = [p for p in (root / "cassettes").rglob("*") if p.is_file()]
    assert [p.name for p in written] == ["test_call[SCRUBBED].codegen.yaml"]
    assert PARAM_KEY not in written[0].read_text()
    assert "Recorded for test_param.py::test_call[<SCRUBBED>]" in written[0].read_text()
    # the report names the cassette by its scrubbed name (the test ids it lists are the
    # plugin's own, not written through the store)
    assert [Path(name).name for name in read_report(report)["cassettes"]] == [
        "test_call[SCRUBBED].codegen.yaml"]
