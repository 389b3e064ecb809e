"""The README's Python snippets run as written (issue 15 item 18), so they stay true.

Each ```python block is compiled with top-level ``await`` allowed (the README says they
run inside async code) and run on its own, in a fresh namespace, in an empty folder, with
``OPENAI_API_KEY``/``OPENAI_BASE_URL`` pointing at the loopback FakeOpenAIServer (the
recording snippet needs a model). A block that defines pytest tests is only compiled: it
needs the plugin and a recorded cassette, which tests/plugin covers.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.testing import FakeOpenAIServer

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[int, str]]:
    """(line of the block's first code line, code) of every ```python block."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def defines_tests(code: str) -> bool:
    tree = ast.parse(code)
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
               and node.name.startswith("test_") for node in tree.body)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "dummy-key-for-the-readme")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def test_the_readme_has_the_snippets_this_test_runs() -> None:
    blocks = snippets()
    assert len(blocks) >= 3
    assert any("MockCodeGenerator(behavior=\"success\")" in code for _, code in blocks)
    assert any("RecordingCodeGenerator(" in code for _, code in blocks)


@pytest.mark.parametrize(("line", "code"), snippets(), ids=lambda v: f"README.md:{v}"
                         if isinstance(v, int) else "")
def test_readme_snippet_runs_as_written(line: int, code: str,
                                        fake_model: FakeOpenAIServer) -> None:
    source = "\n" * (line - 1) + code  # tracebacks point at README.md lines
    compiled = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if defines_tests(code):
        return  # compiled above; running it needs the plugin and a recorded cassette
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    if compiled.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(compiled, namespace))
    else:
        exec(compiled, namespace)


def test_the_recording_snippet_records_then_replays_without_the_model(
    fake_model: FakeOpenAIServer, tmp_path: Path
) -> None:
    (line, code), = [(n, c) for n, c in snippets() if "RecordingCodeGenerator(" in c]
    compiled = compile("\n" * (line - 1) + code, str(README), "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    asyncio.run(eval(compiled, {}))
    assert len(fake_model.requests) == 1  # recorded once; the replay never called it
    assert (tmp_path / "tests" / "cassettes" / "beam.yaml").is_file()
