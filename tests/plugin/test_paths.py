"""Which cassette a test uses: default names, parameters, long names, markers, options."""

from __future__ import annotations

import pytest

from replaycodegen.pytest_plugin._paths import (
    MAX_FILE_NAME_BYTES,
    default_cassette_name,
    safe_file_name,
)

from .helpers import INI, make_project


class TestSomething:
    pass


def test_default_name_is_class_dot_test_with_its_parameters() -> None:
    assert default_cassette_name(None, "test_beam") == "test_beam.codegen.yaml"
    assert default_cassette_name(TestSomething, "test_beam[1-a]") == (
        "TestSomething.test_beam[1-a].codegen.yaml"
    )


def test_characters_unsafe_in_file_names_are_replaced() -> None:
    assert safe_file_name('test_x[a/b\\c:d*e?f"g<h>i|j\'k%l\nm]') == (
        "test_x[a-b-c-d-e-f-g-h-i-j-k-l-m].yaml"
    )


def test_long_names_are_shortened_with_a_hash() -> None:
    long_a, long_b = "test_" + "a" * 300, "test_" + "a" * 299 + "b"
    short_a, short_b = safe_file_name(long_a), safe_file_name(long_b)
    assert len(short_a.encode()) <= MAX_FILE_NAME_BYTES
    assert short_a.startswith("test_aaaa") and short_a.endswith(".yaml")
    assert short_a != short_b
    assert safe_file_name(long_a) == short_a
    wide = safe_file_name("test_" + "é" * 200)
    assert len(wide.encode()) <= MAX_FILE_NAME_BYTES
    wide.encode("utf-8").decode("utf-8")


PATHS = """
import pytest

LONG = "x" * 200


@pytest.mark.parametrize("n", [1, "a/b"])
def test_params(codegen_cassette_path, n):
    assert codegen_cassette_path.parent.name == "test_paths_project"
    assert codegen_cassette_path.name in ("test_params[1].codegen.yaml",
                                          "test_params[a-b].codegen.yaml")


@pytest.mark.parametrize("text", [LONG], ids=[LONG])
def test_long(codegen_cassette_path, text):
    assert len(codegen_cassette_path.name) <= 150
    assert codegen_cassette_path.name.startswith("test_long[xxxx")


class TestGroup:
    def test_in_class(self, codegen_cassette_path):
        assert codegen_cassette_path.name == "TestGroup.test_in_class.codegen.yaml"
"""


def test_paths_of_params_classes_and_long_names(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_paths_project=PATHS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)


MARKERS = """
import pytest

pytestmark = pytest.mark.codegen_cassette("module_wide", match_on=["user_query"])


def test_module_marker(codegen_cassette_path, codegen_record_mode):
    assert codegen_cassette_path.name == "module_wide.yaml"
    assert codegen_record_mode == "none"


@pytest.mark.codegen_cassette("for_class.yml", record_mode="new_episodes")
class TestMarked:
    def test_class_marker(self, codegen_cassette_path, codegen_record_mode):
        assert codegen_cassette_path.name == "for_class.yml"
        assert codegen_record_mode == "new_episodes"

    @pytest.mark.codegen_cassette(record_mode="none")
    def test_closest_wins_per_keyword(self, codegen_cassette_path, codegen_record_mode):
        assert codegen_cassette_path.name == "for_class.yml"
        assert codegen_record_mode == "none"

    @pytest.mark.codegen_cassette(behavior="syntax_error")
    async def test_behavior_replaces_the_path(self, codegen, ask):
        assert codegen.behavior == "syntax_error"
        assert await codegen.generate_code(ask("q"), [])


@pytest.mark.codegen_cassette("/abs/elsewhere")
def test_absolute_path(codegen_cassette_path):
    assert str(codegen_cassette_path) == "/abs/elsewhere.yaml"


@pytest.mark.codegen_cassette(colour="red")
def test_unknown_keyword(codegen_cassette_path):
    pass
"""


def test_markers_on_module_class_and_function_merge(pytester: pytest.Pytester) -> None:
    make_project(pytester, test_markers=MARKERS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines([
        "*test_unknown_keyword: @pytest.mark.codegen_cassette: unknown keyword 'colour'; "
        "valid: path, behavior, match_on, record_mode",
    ])


def test_cassette_dir_option_and_ini_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The option is relative to where pytest runs, the ini key to the ini file."""
    root = make_project(pytester, test_dir="""
def test_where(codegen_cassette_path):
    print("PATH", codegen_cassette_path)
""")
    pytester.makefile(".ini", pytest=INI + "codegen_cassette_dir = from-ini\n")
    monkeypatch.chdir(pytester.mkdir("sub"))
    test_file = str(root / "test_dir.py")
    from_cli = pytester.runpytest("-s", "--codegen-cassette-dir=recordings", test_file)
    from_cli.stdout.fnmatch_lines([f"*PATH {root}/sub/recordings/test_dir/test_where.codegen.yaml"])
    from_ini = pytester.runpytest("-s", test_file)
    from_ini.stdout.fnmatch_lines([f"*PATH {root}/from-ini/test_dir/test_where.codegen.yaml"])
    bad = pytester.runpytest("-o", "codegen_record_mode=sometimes", test_file)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*codegen_record_mode = 'sometimes'*is not valid; use one of: "
                              "none, once, new_episodes, all, rewrite, stale"])
