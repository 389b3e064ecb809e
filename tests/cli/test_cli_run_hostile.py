"""``replaycodegen run`` on a hostile cassette: what the code and the cassette say reaches
the terminal as visible text, never as terminal control sequences.

A cassette in a pull request holds the code, and the code writes its stdout, its error
message and its results: each could rewrite the screen (``ESC [2K``, cursor moves), set
the window title or the clipboard (OSC 52), or reorder what a reviewer reads before
approving (bidirectional overrides, "Trojan Source"), even with colour on.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Invoke

ESC = "\x1b"
HOSTILE = [
    f"{ESC}]0;owned-title\x07",  # window title
    f"{ESC}]52;c;b3duZWQ=\x07",  # the clipboard
    f"{ESC}[2K\r",  # erase the line
    "\x9b2J",  # an 8-bit CSI: clear the screen
    "\u202e",  # right-to-left override
]


def _cassette(invoke: Invoke, tmp_path: Path, code: str) -> Path:
    source = tmp_path / "hostile.py"
    source.write_text(code, encoding="utf-8")
    cassette = tmp_path / "hostile.yaml"
    result = invoke("new", str(cassette), "--code", str(source))
    assert result.exit_code == 0, result.output
    return cassette


def _assert_inert(text: str) -> None:
    for sequence in HOSTILE:
        assert sequence not in text, repr(sequence)
    # Only the CLI's own colour codes (ESC [ ... m) may remain.
    assert all(part[:1] == "[" for part in text.split(ESC)[1:]), repr(text)


def test_what_successful_code_prints_and_returns_is_shown_inert(
    invoke: Invoke, tmp_path: Path
) -> None:
    shown = "".join(HOSTILE)
    raw = "".join(s for s in HOSTILE if s.isascii())  # what Python accepts in a comment
    code = (
        f"# a comment the terminal must not obey: {raw}\n"
        f"print({shown!r} + 'done')\n"
        f"results = {{'note': {shown!r}}}\n"
    )
    cassette = _cassette(invoke, tmp_path, code)

    result = invoke("--color", "always", "run", "--cassette", str(cassette), "--retries", "1")

    assert result.exit_code == 0, result.output
    assert "done" in result.output
    _assert_inert(result.output)


def test_what_failing_code_says_is_shown_inert(invoke: Invoke, tmp_path: Path) -> None:
    shown = "".join(HOSTILE)
    code = f"raise RuntimeError({shown!r} + 'OK attempt 1 succeeded')\n"
    cassette = _cassette(invoke, tmp_path, code)

    result = invoke("--color", "always", "run", "--cassette", str(cassette), "--retries", "1")

    assert result.exit_code == 1
    assert "RuntimeError" in result.output
    _assert_inert(result.output)


def test_json_output_keeps_what_the_code_says_as_json_escapes(
    invoke: Invoke, tmp_path: Path
) -> None:
    import json

    shown = "".join(HOSTILE)
    cassette = _cassette(invoke, tmp_path, f"results = {{'note': {shown!r}}}\n")

    result = invoke("run", "--cassette", str(cassette), "--retries", "1", "--json")

    assert result.exit_code == 0, result.output
    _assert_inert(result.stdout)
    assert json.loads(result.stdout)["result"]["results"] == {"note": shown}  # the same data
