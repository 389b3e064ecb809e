from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaycodegen import ExecutionError, PythonExecutionRequest, fingerprint
from replaycodegen.cassette.keys import (
    DEFAULT_MATCH_ON,
    canonical_json,
    normalize_error_text,
    validate_match_on,
)


def _request(**overrides: object) -> PythonExecutionRequest:
    data: dict[str, object] = {
        "user_query": "Average beam current",
        "task_objective": "Compute the mean",
        "execution_folder_name": "run-1",
        "expected_results": {"mean": "float", "unit": "mA"},
        "capability_context_data": {"channels": ["A", "B"], "window": {"h": 1, "m": 0}},
    }
    data.update(overrides)
    return PythonExecutionRequest(**data)  # type: ignore[arg-type]


def test_key_is_sha256_hex() -> None:
    key = fingerprint(_request())
    assert len(key) == 64 and int(key, 16) >= 0


def test_volatile_fields_do_not_enter_the_key() -> None:
    base = fingerprint(_request())
    assert fingerprint(_request(execution_folder_name="run-2")) == base
    assert fingerprint(_request(execution_folder_path="/tmp/x")) == base
    assert fingerprint(_request(session_context={"user": "bob"})) == base
    assert fingerprint(_request(retries=7)) == base


def test_keyed_fields_change_the_key() -> None:
    base = fingerprint(_request())
    assert fingerprint(_request(user_query="other")) != base
    assert fingerprint(_request(task_objective="other")) != base
    assert fingerprint(_request(expected_results={})) != base
    assert fingerprint(_request(capability_prompts=["p"])) != base
    assert fingerprint(_request(capability_context_data=None)) != base


def test_match_on_is_configurable() -> None:
    only_query = ("user_query",)
    assert fingerprint(_request(), [], only_query) == fingerprint(
        _request(task_objective="different"), [], only_query
    )
    with pytest.raises(ValueError, match="unknown request field"):
        validate_match_on(["user_query", "nope"])


def test_dict_order_does_not_matter() -> None:
    a = _request(expected_results={"a": 1, "b": 2})
    b = _request(expected_results={"b": 2, "a": 1})
    assert fingerprint(a) == fingerprint(b)


def test_error_chain_enters_the_key_strings_and_objects() -> None:
    request = _request()
    assert fingerprint(request, ["NameError: x"]) != fingerprint(request)
    as_object = ExecutionError("NameError", "name 'x' is not defined", stage="execution")
    assert fingerprint(request, [as_object]) != fingerprint(request, ["NameError: x"])


def test_volatile_error_text_is_normalised() -> None:
    text = (
        "FileNotFoundError at /tmp/pytest-of-root/pytest-3/test_x0/data.csv "
        "object at 0x7f3a2b1c4d50 at 2026-11-24T10:00:00.123Z "
        "id 123e4567-e89b-12d3-a456-426614174000 at 10:11:12"
    )
    normalised = normalize_error_text(text)
    assert "/tmp/" not in normalised
    assert "0x7f3a" not in normalised
    assert "2026-11-24" not in normalised
    assert "123e4567" not in normalised
    assert normalised.count("<") >= 4
    request = _request()
    one = ExecutionError("E", "bad object at 0x7f0000001234 in /tmp/a1/main.py", stage="execution")
    two = ExecutionError("E", "bad object at 0x7fffffff9999 in /tmp/b2/main.py", stage="execution")
    assert fingerprint(request, [one]) == fingerprint(request, [two])


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


_KEY_SCRIPT = """
import json, sys
from replaycodegen import PythonExecutionRequest, ExecutionError, fingerprint
r = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f",
    expected_results={"z": 1, "a": [1, 2, {"k": "v"}]}, capability_context_data={"s": "é"})
print(fingerprint(r, [ExecutionError("E", "at 0xdeadbeef"), "plain"]))
"""


def test_key_is_stable_across_processes_and_hash_seeds() -> None:
    keys = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _KEY_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        keys.add(out.stdout.strip())
    assert len(keys) == 1
    assert keys == {
        fingerprint(
            PythonExecutionRequest(
                user_query="q",
                task_objective="o",
                execution_folder_name="f",
                expected_results={"a": [1, 2, {"k": "v"}], "z": 1},
                capability_context_data={"s": "é"},
            ),
            [ExecutionError("E", "at 0xdeadbeef"), "plain"],
        )
    }


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=5), _json_values, max_size=4))
def test_key_ignores_dict_insertion_order(data: dict[str, object]) -> None:
    reversed_data = dict(reversed(list(data.items())))
    a = _request(expected_results=data)
    b = _request(expected_results=reversed_data)
    assert fingerprint(a) == fingerprint(b)
    # and round-trips through JSON unchanged
    assert json.loads(canonical_json(data)) == data


def test_default_match_on_matches_the_issue() -> None:
    assert DEFAULT_MATCH_ON == (
        "user_query",
        "task_objective",
        "expected_results",
        "capability_prompts",
        "capability_context_data",
    )
