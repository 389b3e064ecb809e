"""Osprey's public helpers as a user moving from Osprey meets them (issue 16, items 1-4, 6):
``validate_result_structure``, the error text fed back to the LLM, the mock generator's
public state, the factory's message for an unknown generator, ``replaycodegen.exceptions``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import replaycodegen
import replaycodegen.errors
import replaycodegen.exceptions
import replaycodegen.executor
from replaycodegen import (
    DEFAULT_MATCH_ON,
    CassetteError,
    ExecutionError,
    MockCodeGenerator,
    PromptBuilder,
    PythonExecutionRequest,
    create_code_generator,
    load_cassette,
    validate_result_structure,
)
from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.store import CassetteStore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "cassettes" / "demo" / "beam_statistics.yaml"

# -- 16.1 validate_result_structure -------------------------------------------------------

BUILDS_RESULTS = {
    "dict literal": "results = {'value': 42}",
    "empty dict": "results = {}",
    "dict() call": "results = dict(value=42)",
    "dict comprehension": "results = {k: v for k, v in [('a', 1)]}",
    "annotated": "results: dict[str, int] = {'value': 1}",
    "chained": "summary = results = {'value': 1}",
    "tuple target": "results, count = {'value': 1}, 1",
    "nested tuple target": "(n, (results, m)) = (1, ({}, 2))",
    "walrus": "if (results := {'value': 1}):\n    pass",
    "inside an if block": "if True:\n    results = {'value': 1}",
    "inside try/for/with": (
        "for i in range(1):\n    try:\n        with open('x') as f:\n"
        "            results = {'value': i}\n    except OSError:\n        pass"
    ),
    "one of several assignments": "results = []\nresults = {'ok': True}",
    "after other code": "import math\nvalue = math.sqrt(4)\nresults = {'value': value}",
}

DOES_NOT = {
    "a list": "results = [1, 2]",
    "a call to another function": "def compute():\n    return {}\nresults = compute()",
    "a method call": "results = dict.fromkeys(['a'])",
    "a name": "data = {}\nresults = data",
    "a conditional": "results = {} if True else []",
    "no assignment": "value = {'results': 1}\nprint(value)",
    "only item assignments": "results['value'] = 1",
    "augmented": "results |= {'value': 1}",
    "annotation without value": "results: dict",
    "other name": "result = {'value': 42}",
    "inside a function": "def main():\n    results = {'value': 1}\nmain()",
    "inside a class": "class Holder:\n    results = {'value': 1}",
    "inside a lambda": "f = lambda: (results := {})",
    "tuple target, call value": "results, n = make_pair()",
    "starred target": "results, *rest = {}, 1, 2",
    "mismatched tuple": "results, n = {}, 1, 2",
    "the word only": "# results = {}\nprint('results = {}')",
    "does not parse": "results = {'value': 42",
    "empty code": "",
    "a null byte": "results = {}\x00",
}


@pytest.mark.parametrize("code", BUILDS_RESULTS.values(), ids=BUILDS_RESULTS.keys())
def test_code_that_builds_a_results_dict_is_valid(code: str) -> None:
    assert validate_result_structure(code) is True


@pytest.mark.parametrize("code", DOES_NOT.values(), ids=DOES_NOT.keys())
def test_code_that_does_not_build_a_results_dict_is_not(code: str) -> None:
    assert validate_result_structure(code) is False


def test_validate_result_structure_is_exported_from_the_package() -> None:
    assert replaycodegen.validate_result_structure is validate_result_structure
    assert "validate_result_structure" in replaycodegen.__all__


def test_deeply_nested_code_is_false_not_a_crash() -> None:
    assert validate_result_structure("results = " + "(" * 10_000 + ")" * 10_000) is False


@pytest.mark.parametrize("behavior", ["success", "channel_read", "error_aware"])
def test_shipped_behaviours_that_succeed_pass_the_check(behavior: str) -> None:
    generator = MockCodeGenerator(behavior=behavior)
    assert all(validate_result_structure(e.code) for e in generator.cassette.entries)


def test_the_missing_results_behaviour_fails_the_check() -> None:
    generator = MockCodeGenerator(behavior="missing_results")
    assert not any(validate_result_structure(e.code) for e in generator.cassette.entries)


# -- 16.2 ExecutionError.to_prompt_text -----------------------------------------------------


def test_the_osprey_documentation_example_renders_byte_for_byte() -> None:
    error = ExecutionError(
        error_type="KeyError",
        error_message="'missing_column'",
        failed_code="result = data['missing_column'].mean()",
        traceback="KeyError: 'missing_column'\n  File \"script.py\", line 5, in <module>",
        attempt_number=1,
        stage="execution",
    )
    assert error.to_prompt_text() == (
        "**Attempt 1 - EXECUTION FAILED**\n"
        "\n"
        "**Code that failed:**\n"
        "```python\n"
        "result = data['missing_column'].mean()\n"
        "```\n"
        "\n"
        "**Error Type:** KeyError\n"
        "**Error:** 'missing_column'\n"
        "\n"
        "**Traceback:**\n"
        "```\n"
        "KeyError: 'missing_column'\n"
        "  File \"script.py\", line 5, in <module>\n"
        "```"
    )


def test_analysis_issues_are_listed_one_per_line() -> None:
    error = ExecutionError(
        error_type="analysis",
        error_message="Static analysis failed",
        failed_code="def broken(\n    pass",
        analysis_issues=["Syntax error: Missing closing parenthesis", "Invalid indentation"],
        attempt_number=2,
        stage="analysis",
    )
    assert error.to_prompt_text().splitlines()[-3:] == [
        "**Issues Found:**",
        "  - Syntax error: Missing closing parenthesis",
        "  - Invalid indentation",
    ]
    assert error.to_prompt_text().startswith("**Attempt 2 - ANALYSIS FAILED**\n")


def test_only_what_is_set_is_shown() -> None:
    error = ExecutionError("NameError", "name 'x' is not defined", stage="generation")
    text = error.to_prompt_text()
    assert text == (
        "**Attempt 1 - GENERATION FAILED**\n\n"
        "**Error Type:** NameError\n"
        "**Error:** name 'x' is not defined"
    )


def test_an_empty_stage_leaves_the_stage_word_out() -> None:
    assert ExecutionError("E", "m").to_prompt_text().startswith("**Attempt 1 - FAILED**\n")


def test_a_traceback_of_1000_characters_is_kept_whole() -> None:
    traceback = "a" * 1000
    text = ExecutionError("E", "m", traceback=traceback).to_prompt_text()
    assert f"```\n{traceback}\n```" in text


def test_a_longer_traceback_keeps_its_first_and_last_500_characters() -> None:
    traceback = "H" * 500 + "middle" + "T" * 500
    text = ExecutionError("E", "m", traceback=traceback).to_prompt_text()
    assert f"```\n{'H' * 500}\n... (truncated) ...\n{'T' * 500}\n```" in text
    assert "middle" not in text


def test_the_prompt_builder_feeds_the_new_text_and_has_a_new_version() -> None:
    error = ExecutionError("ZeroDivisionError", "division by zero", "results = 1 / 0",
                           stage="execution")
    request = PythonExecutionRequest(user_query="q", task_objective="o",
                                     execution_folder_name="f")
    user = PromptBuilder().build(request, [error])[-1]["content"]
    assert error.to_prompt_text() in user
    assert PromptBuilder.version == "2"  # "1" rendered "Attempt 1 - EXECUTION FAILED" bare


def test_the_demo_cassette_was_recorded_with_this_prompt_builder() -> None:
    cassette = load_cassette(DEMO)
    assert {e.meta["prompt_version"] for e in cassette.entries} == {PromptBuilder.version}
    first = cassette.entries[0]
    assert first.request is not None and not first.error_chain
    request = PythonExecutionRequest(execution_folder_name="f", **first.request)
    messages = PromptBuilder().build(request, [])
    assert first.meta["prompt_sha256"] == PromptBuilder.fingerprint(messages)


# -- 16.3 MockCodeGenerator's public state --------------------------------------------------


@pytest.fixture
def seed_request() -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query="Calculate test value",
                                  task_objective="Test computation", execution_folder_name="test")


def test_a_new_generator_has_no_code_and_an_empty_chain() -> None:
    generator = MockCodeGenerator()
    assert generator.static_code is None
    assert generator.code_sequence == []
    assert generator.last_error_chain == []
    assert generator.model_config == {}


async def test_set_code_is_readable_as_static_code(seed_request: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code("results = {'value': 42}")
    assert generator.static_code == "results = {'value': 42}"
    assert generator.code_sequence == []
    assert await generator.generate_code(seed_request, []) == generator.static_code


async def test_set_code_sequence_is_readable_as_code_sequence(
    seed_request: PythonExecutionRequest,
) -> None:
    generator = MockCodeGenerator()
    generator.set_code("results = {}")
    codes = ["results = 1 / 0", "results = {'value': 42}"]
    generator.set_code_sequence(codes)
    assert generator.code_sequence == codes
    assert generator.static_code is None  # the sequence answers now
    generator.code_sequence.append("mutating the copy")
    assert generator.code_sequence == codes
    assert [await generator.generate_code(seed_request, []) for _ in range(3)] == [
        codes[0], codes[1], codes[1]
    ]


async def test_assigning_the_attributes_works_like_the_setters(
    seed_request: PythonExecutionRequest,
) -> None:
    generator = MockCodeGenerator()
    generator.static_code = "results = {'a': 1}"
    assert await generator.generate_code(seed_request, []) == "results = {'a': 1}"
    generator.code_sequence = ["results = {'b': 1}", "results = {'c': 1}"]
    assert await generator.generate_code(seed_request, []) == "results = {'c': 1}"  # call 2
    generator.code_sequence = []
    assert generator.code_sequence == []
    generator.static_code = None
    assert generator.static_code is None
    with pytest.raises(ValueError, match="not configured"):
        await generator.generate_code(seed_request, [])


@pytest.mark.parametrize("behavior", ["success", "runtime_error", "syntax_error",
                                      "missing_results", "channel_write", "security_risk"])
async def test_a_one_code_behaviour_shows_it_as_static_code(
    behavior: str, seed_request: PythonExecutionRequest,
) -> None:
    generator = MockCodeGenerator(behavior=behavior)
    assert generator.static_code is not None
    assert generator.code_sequence == []
    assert await generator.generate_code(seed_request, []) == generator.static_code
    assert await generator.generate_code(seed_request, ["NameError: x"]) == generator.static_code


def test_a_behaviour_that_answers_by_condition_shows_no_static_code() -> None:
    generator = MockCodeGenerator(behavior="error_aware")
    assert len(generator.cassette.entries) > 1
    assert generator.static_code is None
    assert generator.code_sequence == []


def test_a_recorded_cassette_shows_no_static_code(tmp_path: Path,
                                                  seed_request: PythonExecutionRequest) -> None:
    path = tmp_path / "one.yaml"
    cassette = Cassette(path=str(path))
    cassette.add(entry_from_pair(entry_id="e1", request=seed_request, error_chain=[],
                                 code="results = {'value': 1}", match_on=DEFAULT_MATCH_ON))
    CassetteStore(path).write(cassette)
    generator = MockCodeGenerator(cassette=path)
    assert generator.static_code is None  # it answers one request, not every request
    assert generator.code_sequence == []


async def test_reset_leaves_an_empty_error_chain(seed_request: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code("results = {}")
    await generator.generate_code(seed_request, ["error1", "error2"])
    assert generator.last_error_chain == ["error1", "error2"]
    generator.reset()
    assert generator.last_error_chain == []
    assert generator.call_count == 0
    assert generator.static_code == "results = {}"  # the configured code stays


def test_model_config_is_kept_as_given() -> None:
    config = {"behavior": "success", "extra": {"nested": [1, 2]}}
    generator = MockCodeGenerator(model_config=config)
    assert generator.model_config is config
    assert generator.behavior == "success"


def test_the_factory_hands_the_mock_its_settings_as_model_config() -> None:
    settings = {"behavior": "runtime_error"}
    generator = create_code_generator(
        {"configurable": {"execution": {"code_generator": "mock",
                                        "generators": {"mock": settings}}}}
    )
    assert isinstance(generator, MockCodeGenerator)
    assert generator.model_config == settings


# -- 16.4 the factory's message --------------------------------------------------------------


def test_an_unknown_generator_is_not_available() -> None:
    with pytest.raises(ValueError, match=r"^Generator 'nonexistent' not available") as caught:
        create_code_generator({"execution": {"code_generator": "nonexistent"}})
    assert "mock, openai, recording" in str(caught.value)


# -- 16.6 replaycodegen.exceptions -----------------------------------------------------------


def _exception_classes(module: object, names: list[str]) -> dict[str, type]:
    found = {}
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) and issubclass(value, BaseException | Warning):
            found[name] = value
    return found


def test_exceptions_are_the_same_class_objects_as_errors() -> None:
    for name, cls in _exception_classes(replaycodegen.errors, dir(replaycodegen.errors)).items():
        if cls.__module__ == "replaycodegen.errors":
            assert getattr(replaycodegen.exceptions, name) is cls, name


def test_every_exception_a_user_can_catch_is_in_exceptions() -> None:
    exported = {
        **_exception_classes(replaycodegen, replaycodegen.__all__),
        **_exception_classes(replaycodegen.executor, replaycodegen.executor.__all__),
    }
    assert {"ExecutorConfigError", "NoPendingApproval", "LiveCallBlocked",
            "CassetteWarning"} <= set(exported)
    for name, cls in exported.items():
        assert name in replaycodegen.exceptions.__all__, name
        assert getattr(replaycodegen.exceptions, name) is cls, name
    for name in replaycodegen.exceptions.__all__:
        assert inspect.isclass(getattr(replaycodegen.exceptions, name)), name


def test_osprey_base_name_is_the_pipeline_base() -> None:
    from replaycodegen.exceptions import CodeRuntimeError, PythonExecutorException

    assert PythonExecutorException is replaycodegen.PythonExecutorError
    assert issubclass(CodeRuntimeError, PythonExecutorException)


def test_an_error_raised_by_the_library_is_caught_through_exceptions(tmp_path: Path) -> None:
    from replaycodegen.exceptions import CassetteError as FromExceptions

    with pytest.raises(FromExceptions) as caught:
        load_cassette(tmp_path / "missing.yaml")
    assert isinstance(caught.value, CassetteError)
    assert "missing.yaml" in str(caught.value)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        replaycodegen.exceptions.Nope  # noqa: B018
