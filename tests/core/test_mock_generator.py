"""The seed document's generator snippets, with osprey... replaced by replaycodegen."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from replaycodegen import (
    BEHAVIORS,
    CassetteMiss,
    CodeGenerator,
    ExecutionError,
    MockCodeGenerator,
    PythonExecutionRequest,
)
from replaycodegen.generation import MockCodeGenerator as FromGeneration


async def test_seed_quick_start() -> None:
    from replaycodegen import PythonExecutionRequest
    from replaycodegen.generation import MockCodeGenerator

    generator = MockCodeGenerator(behavior="success")
    request = PythonExecutionRequest(
        user_query="Calculate test value",
        task_objective="Test computation",
        execution_folder_name="test",
    )
    code = await generator.generate_code(request, [])
    namespace: dict[str, object] = {}
    exec(compile(code, "<success>", "exec"), namespace)
    assert namespace["results"] == {"value": 42, "inputs": [40, 2]}


def test_same_class_from_both_modules() -> None:
    assert MockCodeGenerator is FromGeneration
    assert isinstance(MockCodeGenerator(behavior="success"), CodeGenerator)


@pytest.mark.parametrize("behavior", BEHAVIORS)
def test_every_predefined_behavior_constructs(behavior: str) -> None:
    generator = MockCodeGenerator(behavior=behavior)
    assert generator.behavior == behavior


def test_unknown_behavior_is_a_value_error_listing_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown behavior: nope\. Available: success, "):
        MockCodeGenerator(behavior="nope")


async def test_not_configured_says_how_to_configure(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    with pytest.raises(ValueError, match="not configured") as info:
        await generator.generate_code(request_obj, [])
    assert "set_code" in str(info.value) and "behavior=" in str(info.value)
    assert generator.call_count == 1  # tracking is updated first, even on a raising call


async def test_static_code(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code("results = {'value': 42}")
    for _ in range(3):
        assert await generator.generate_code(request_obj, []) == "results = {'value': 42}"


async def test_code_sequence_then_last_repeats(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code_sequence(["results = 1 / 0", "results = {'value': 42}"])
    codes = [await generator.generate_code(request_obj, []) for _ in range(4)]
    assert codes == ["results = 1 / 0"] + ["results = {'value': 42}"] * 3


async def test_sequence_index_follows_call_count(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code("static")
    await generator.generate_code(request_obj, [])
    generator.set_code_sequence(["a", "b", "c"])
    # element min(call_count - 1, len - 1): the second call gets "b"
    assert await generator.generate_code(request_obj, []) == "b"


async def test_precedence_sequence_over_static_over_behavior(
    request_obj: PythonExecutionRequest,
) -> None:
    generator = MockCodeGenerator(behavior="syntax_error")
    generator.set_code("static")
    assert await generator.generate_code(request_obj, []) == "static"
    generator.set_code_sequence(["seq"])
    assert await generator.generate_code(request_obj, []) == "seq"
    generator.set_code("static again")  # clears the sequence
    assert await generator.generate_code(request_obj, []) == "static again"


async def test_call_tracking_and_reset(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code("results = {}")
    await generator.generate_code(request_obj, ["error1", "error2"])
    assert generator.call_count == 1
    assert generator.last_request == request_obj
    assert generator.last_error_chain == ["error1", "error2"]
    generator.reset()
    assert generator.call_count == 0
    assert generator.last_request is None
    assert await generator.generate_code(request_obj, []) == "results = {}"  # config kept


async def test_reset_restarts_a_sequence(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator()
    generator.set_code_sequence(["a", "b"])
    await generator.generate_code(request_obj, [])
    await generator.generate_code(request_obj, [])
    generator.reset()
    assert await generator.generate_code(request_obj, []) == "a"


def _run(code: str, tmp_path: Path) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, "<behavior>", "exec"), namespace)
    return namespace


async def test_behavior_code_does_what_it_says(
    request_obj: PythonExecutionRequest, tmp_path: Path
) -> None:
    async def code_of(name: str) -> str:
        return await MockCodeGenerator(behavior=name).generate_code(request_obj, [])

    assert _run(await code_of("success"), tmp_path)["results"] == {"value": 42, "inputs": [40, 2]}
    with pytest.raises(SyntaxError):
        compile(await code_of("syntax_error"), "<x>", "exec")
    runtime = await code_of("runtime_error")
    compile(runtime, "<x>", "exec")
    assert "/ 0" in runtime
    with pytest.raises(ZeroDivisionError):
        _run(runtime, tmp_path)
    assert "results" not in _run(await code_of("missing_results"), tmp_path)
    write = await code_of("channel_write")
    assert "from replaycodegen.runtime import read_channel, write_channel" in write
    assert "write_channel(" in write
    read = await code_of("channel_read")
    assert "read_channel(" in read and "write_channel" not in read
    risky = await code_of("security_risk")
    assert any(
        isinstance(node, ast.Import) and any(a.name == "subprocess" for a in node.names)
        for node in ast.walk(ast.parse(risky))
    )


async def test_error_aware_adapts_to_feedback(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator(behavior="error_aware")
    code1 = await generator.generate_code(request_obj, [])
    assert "results" in _run(code1, Path("."))
    code2 = await generator.generate_code(request_obj, ["NameError: name 'numpy' is not defined"])
    assert "import statistics" in code2 and "import math" in code2
    assert _run(code2, Path("."))["results"]["value"] == 42  # type: ignore[index]
    zero = ExecutionError("ZeroDivisionError", "division by zero", stage="execution")
    code3 = await generator.generate_code(request_obj, [zero])
    assert "> 0" in code3
    assert _run(code3, Path("."))["results"]["value"] == 42  # type: ignore[index]
    code4 = await generator.generate_code(request_obj, ["SyntaxError: invalid syntax (line 1)"])
    compile(code4, "<x>", "exec")
    code5 = await generator.generate_code(request_obj, ["ValueError: something odd"])
    assert "results" in _run(code5, Path("."))
    assert len({code1, code2, code3, code4, code5}) == 5


async def test_metadata_names_the_entry(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator(behavior="error_aware")
    await generator.generate_code(request_obj, ["NameError: x"])
    meta = generator.get_generation_metadata()
    assert meta["behavior"] == "error_aware"
    assert meta["entry_id"] == "add-imports"
    assert meta["cassette"] == "behavior:error_aware"
    assert len(meta["key"]) == 64


async def test_generators_are_independent(request_obj: PythonExecutionRequest) -> None:
    a = MockCodeGenerator(behavior="success")
    b = MockCodeGenerator(behavior="success")
    await a.generate_code(request_obj, [])
    assert a.call_count == 1 and b.call_count == 0


async def test_concurrent_calls_count_every_call(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator(behavior="success")
    await asyncio.gather(*(generator.generate_code(request_obj, []) for _ in range(20)))
    assert generator.call_count == 20


async def test_cassette_path_miss_raises_cassette_miss(
    request_obj: PythonExecutionRequest, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nentries: []\n")
    generator = MockCodeGenerator(cassette=path)
    with pytest.raises(CassetteMiss) as info:
        await generator.generate_code(request_obj, [])
    assert info.value.reason == "no match"
    assert generator.call_count == 1


def test_behavior_and_cassette_together_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        MockCodeGenerator(behavior="success", cassette=tmp_path / "x.yaml")


async def test_model_config_carries_behavior(request_obj: PythonExecutionRequest) -> None:
    generator = MockCodeGenerator(model_config={"behavior": "runtime_error"})
    assert "/ 0" in await generator.generate_code(request_obj, [])
