"""extract_code: fences, prose, several blocks, no fence; plus hypothesis properties."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaycodegen.generation.extract import extract_code, fenced_blocks

CODE = 'import math\nresults = {"root": math.sqrt(2)}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"```python\n{CODE}\n```", CODE, id="python-fence"),
        pytest.param(f"```py\n{CODE}\n```", CODE, id="py-fence"),
        pytest.param(f"```Python3\n{CODE}\n```", CODE, id="python3-any-case"),
        pytest.param(f"```\n{CODE}\n```", CODE, id="bare-fence"),
        pytest.param(f"~~~python\n{CODE}\n~~~", CODE, id="tilde-fence"),
        pytest.param(f"~~~\n{CODE}\n~~~", CODE, id="bare-tilde-fence"),
        pytest.param(f"```python title=main.py\n{CODE}\n```", CODE, id="info-string"),
        pytest.param(f"``` python\n{CODE}\n```", CODE, id="space-before-tag"),
        pytest.param(f"Here is the code:\n\n```python\n{CODE}\n```", CODE, id="prose-before"),
        pytest.param(f"```python\n{CODE}\n```\n\nIt computes a root.", CODE, id="prose-after"),
        pytest.param(f"Sure!\n```python\n{CODE}\n```\nDone.\n", CODE, id="prose-around"),
        pytest.param(CODE, CODE, id="no-fence"),
        pytest.param(f"\n\n  {CODE}  \n\n", CODE, id="no-fence-stripped"),
        pytest.param(f"```python\r\n{CODE}\r\n```\r\n", CODE, id="crlf"),
        pytest.param(f"```python\n{CODE}", CODE, id="unclosed-fence-cut-by-max-tokens"),
        pytest.param(f"````python\n{CODE}\n```\nx = 1\n````", f"{CODE}\n```\nx = 1", id="long"),
        pytest.param(f"```python\n{CODE}\n~~~\n```", f"{CODE}\n~~~", id="other-char-no-close"),
        pytest.param(
            "1. Run this:\n\n    ```python\n" + textwrap.indent(CODE, "    ") + "\n    ```",
            CODE,
            id="indented-fence-dedented",
        ),
        pytest.param(
            f"```python\nresults = {{}}\n```\nBetter:\n```python\n{CODE}\n```",
            CODE,
            id="last-python-block-wins",
        ),
        pytest.param(
            f"```python\n{CODE}\n```\nOutput:\n```\n{{'root': 1.41}}\n```",
            CODE,
            id="tagged-python-beats-later-bare",
        ),
        pytest.param(
            f"```bash\npip install numpy\n```\n```\n{CODE}\n```\n```json\n{{}}\n```",
            CODE,
            id="bare-counts-as-python-when-no-tag",
        ),
        pytest.param("```bash\nls -l\n```", "ls -l", id="only-other-language-last-block"),
        pytest.param("", "", id="empty"),
        pytest.param("   \n\t\n", "", id="whitespace"),
        pytest.param("```python\n\n```", "", id="empty-fence"),
        pytest.param("Use ``` to fence code.", "Use ``` to fence code.", id="inline-backticks"),
    ],
)
def test_extract_code(text: str, expected: str) -> None:
    assert extract_code(text) == expected


def test_fenced_blocks_reports_languages_in_order() -> None:
    text = "```py\na = 1\n```\nprose\n~~~\nb = 2\n~~~\n```JSON {x}\n{}\n```"
    assert [(b.language, b.body) for b in fenced_blocks(text)] == [
        ("py", "a = 1"),
        ("", "b = 2"),
        ("json", "{}"),
    ]


def test_code_inside_python_keeps_inner_indentation() -> None:
    code = "def f(x):\n    if x:\n        return 1\n    return 0\n\nresults = {'v': f(1)}"
    assert extract_code(f"```python\n{code}\n```") == code


# -- properties ----------------------------------------------------------------------------

_LINE_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")
_line = st.text(_LINE_CHARS, max_size=40)


def _is_fence(line: str) -> bool:
    stripped = line.lstrip(" \t")
    return stripped.startswith("```") or stripped.startswith("~~~")


_plain_lines = st.lists(_line.filter(lambda line: not _is_fence(line)), max_size=8)


@given(prose_before=_plain_lines, code_lines=_plain_lines, prose_after=_plain_lines)
def test_property_fenced_code_is_found_whatever_the_prose(
    prose_before: list[str], code_lines: list[str], prose_after: list[str]
) -> None:
    code = "\n".join(code_lines)
    text = "\n".join([*prose_before, "```python", code, "```", *prose_after])
    assert extract_code(text) == textwrap.dedent(code).strip()


@given(lines=_plain_lines)
def test_property_text_without_fences_is_returned_stripped(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert extract_code(text) == text.strip()


@given(text=st.text(max_size=300))
def test_property_never_raises_and_result_is_stripped(text: str) -> None:
    result = extract_code(text)
    assert result == result.strip()
