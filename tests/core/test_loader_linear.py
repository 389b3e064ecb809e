"""Loading is linear, stale keys included (issue 11.2), and a stale key warns once, at the
cassette's file:line (15.21).

Linearity is checked by counting the characters handed to the YAML composer (one pass
over the file, whatever the number of stale keys), not with a clock.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from replaycodegen import CassetteWarning, load_cassette
from replaycodegen.cassette.loading import compose
from replaycodegen.cli import app
from tests.core.cassette_strategies import recorded_text


def _cassette_text(count: int, *, stale: bool) -> str:
    return recorded_text(count, code="x = {i}\ny = x * 2\n", stale=stale)


class Composed:
    """Counts what reaches the YAML composer: ours, and PyYAML's (``yamlio.line_of``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chars = 0
        self.pyyaml_calls = 0
        real_compose, real_pyyaml = compose.compose, yaml.compose

        def counting(text: str) -> yaml.Node | None:
            self.chars += len(text)
            return real_compose(text)

        def counting_pyyaml(stream: str, Loader: type) -> yaml.Node | None:
            self.pyyaml_calls += 1
            self.chars += len(stream)
            return real_pyyaml(stream, Loader=Loader)

        monkeypatch.setattr(compose, "compose", counting)
        monkeypatch.setattr(yaml, "compose", counting_pyyaml)


@pytest.fixture
def composed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Composed]:
    yield Composed(monkeypatch)


def _load_quietly(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_cassette(path, cache=False)


@pytest.mark.parametrize("count", [600, 2000])
def test_stale_keys_cost_one_pass_over_the_file(tmp_path: Path, composed: Composed,
                                                count: int) -> None:
    """600 stale entries took 93 s: a full re-parse per stale entry to find its line."""
    fresh, stale = tmp_path / "fresh.yaml", tmp_path / "stale.yaml"
    fresh.write_text(_cassette_text(count, stale=False))
    stale.write_text(_cassette_text(count, stale=True))
    _load_quietly(fresh)
    fresh_chars, composed.chars = composed.chars, 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_cassette(stale, cache=False)
    assert sum(issubclass(w.category, CassetteWarning) for w in caught) == count
    assert composed.pyyaml_calls == 0
    assert composed.chars <= 1.5 * fresh_chars
    assert fresh_chars <= 1.1 * len(fresh.read_text()) + 200  # one pass (+ the header twice)


def test_rehash_of_stale_keys_is_linear(tmp_path: Path, composed: Composed) -> None:
    path = tmp_path / "stale.yaml"
    text = _cassette_text(600, stale=True)
    path.write_text(text)
    result = CliRunner().invoke(app.cli, ["rehash", str(path)])
    assert result.exit_code == 0, result.output
    assert "e600" in result.output
    assert composed.chars <= 4 * len(text)  # a few passes, not one per stale entry
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_cassette(path, cache=False)  # the keys are right now: no warning


def test_a_stale_key_warns_once_at_the_cassettes_key_line(tmp_path: Path) -> None:
    path = tmp_path / "stale.yaml"
    text = _cassette_text(3, stale=True)
    path.write_text(text)
    key_lines = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("    key:")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        load_cassette(path, cache=False)
        load_cassette(path, cache=False)  # again in the same process: not shown twice
    cassette_warnings = [w for w in caught if issubclass(w.category, CassetteWarning)]
    assert [w.lineno for w in cassette_warnings] == key_lines
    assert {w.filename for w in cassette_warnings} == {str(path)}
    assert [str(w.message).split("'")[1] for w in cassette_warnings] == ["e1", "e2", "e3"]
    assert all("loader.py" not in w.filename for w in cassette_warnings)


def test_the_cli_prints_the_warning_at_file_line(tmp_path: Path) -> None:
    path = tmp_path / "stale.yaml"
    text = _cassette_text(1, stale=True)
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("    key:"))
    result = CliRunner().invoke(app.cli, ["show", str(path), "e1"])
    assert result.exit_code == 0, result.output
    shown = [row for row in result.output.splitlines() if "stored key disagrees" in row]
    assert shown == [f"warning: {path}:{line}: entry 'e1': the stored key disagrees with its "
                     "request; the request wins. Run `replaycodegen rehash` to update the "
                     "stored key."]


def test_in_pytest_one_warning_per_stale_entry_pointing_at_the_cassette(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_stale"
    folder.mkdir(parents=True)
    text = _cassette_text(2, stale=True)
    (folder / "test_uses_it.codegen.yaml").write_text(text)
    pytester.makepyfile(test_stale="""
        def test_uses_it(codegen):
            assert codegen is not None
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "default")
    result.assert_outcomes(passed=1, warnings=2)
    lines = [i for i, row in enumerate(text.splitlines(), 1) if row.startswith("    key:")]
    for line in lines:
        result.stdout.fnmatch_lines([f"*cassettes/test_stale/test_uses_it.codegen.yaml:{line}: "
                                     "CassetteWarning: entry 'e*': the stored key disagrees*"])
    assert "loader.py" not in result.stdout.str()
