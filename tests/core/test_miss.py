"""A miss explains itself: reason, cassette, closest entries with a diff, the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from replaycodegen import CassetteMiss, ExecutionError, MockCodeGenerator, PythonExecutionRequest
from replaycodegen.cassette.keys import DEFAULT_MATCH_ON
from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.serialize import dump_cassette
from replaycodegen.generation import RecordingCodeGenerator

REQ = PythonExecutionRequest(
    user_query="Average beam current over the last hour",
    task_objective="Compute the mean beam current",
    expected_results={"mean": "float"},
    execution_folder_name="f",
)
ERR = ExecutionError("NameError", "name 'statistics' is not defined", stage="execution")


@pytest.fixture
def cassette_path(tmp_path: Path) -> Path:
    cassette = Cassette()
    cassette.add(entry_from_pair(entry_id="first-try", request=REQ, error_chain=[],
                                 code="a", match_on=DEFAULT_MATCH_ON))
    cassette.add(entry_from_pair(entry_id="after-name-error", request=REQ, error_chain=[ERR],
                                 code="b", match_on=DEFAULT_MATCH_ON))
    unrelated = REQ.model_copy(update={"user_query": "Plot the vacuum", "task_objective": "x"})
    cassette.add(entry_from_pair(entry_id="unrelated", request=unrelated, error_chain=[],
                                 code="c", match_on=DEFAULT_MATCH_ON))
    path = tmp_path / "beam.yaml"
    path.write_text(dump_cassette(cassette))
    return path


async def test_miss_gives_reason_path_closest_diff_and_fix(cassette_path: Path) -> None:
    generator = MockCodeGenerator(cassette=cassette_path)
    drifted = REQ.model_copy(update={"user_query": "Mean beam current over the last hour"})
    with pytest.raises(CassetteMiss) as info:
        await generator.generate_code(drifted, [])
    miss = info.value
    message = str(miss)
    assert miss.reason == "no match"
    assert miss.cassette_path == str(cassette_path)
    assert miss.closest[0] == "first-try"
    assert "no match" in message.splitlines()[0]
    assert str(cassette_path) in message
    assert (
        "user_query: recorded 'Average beam current over the last hour' != now "
        "'Mean beam current over the last hour'" in message
    )
    assert "line " in message  # where the closest entry sits in the file
    assert (f"replaycodegen record --cassette {cassette_path} --mode new_episodes "
            "--request " in message)  # expected_results is keyed and not the default


async def test_miss_diffs_the_error_chain(cassette_path: Path) -> None:
    generator = MockCodeGenerator(cassette=cassette_path)
    other_error = ExecutionError("NameError", "name 'numpy' is not defined", stage="execution")
    with pytest.raises(CassetteMiss) as info:
        await generator.generate_code(REQ, [other_error])
    message = str(info.value)
    assert info.value.closest[0] == "after-name-error"
    assert (
        "error_chain[0].message: recorded \"name 'statistics' is not defined\" != now "
        "\"name 'numpy' is not defined\"" in message
    )
    assert "attempt 2" in message


async def test_miss_in_none_mode_names_the_mode_that_records(tmp_path: Path) -> None:
    class Never:
        async def generate_code(self, request, chain):  # type: ignore[no-untyped-def]
            raise AssertionError("must not be called")

        def get_generation_metadata(self):  # type: ignore[no-untyped-def]
            return {}

    recorder = RecordingCodeGenerator(Never(), tmp_path / "none.yaml", "none")
    with pytest.raises(CassetteMiss) as info:
        await recorder.generate_code(REQ, [])
    assert info.value.reason == "no such cassette"
    assert "record mode is 'none'" in str(info.value)
    assert f"replaycodegen record --cassette {tmp_path / 'none.yaml'} --mode once" in str(
        info.value)


async def test_a_miss_near_a_scrubbed_entry_says_why(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A cassette of replaycodegen 0.1 pinned the key of the unscrubbed request."""
    from replaycodegen.cassette.keys import fingerprint

    monkeypatch.setenv("MY_TOKEN", "tok-0123456789")
    secret_request = REQ.model_copy(update={"user_query": "use tok-0123456789"})
    pinned = fingerprint(secret_request)
    path = tmp_path / "scrubbed.yaml"
    path.write_text(
        "version: 1\nentries:\n- id: e1\n  request:\n    user_query: use <SCRUBBED>\n"
        f"    task_objective: {REQ.task_objective}\n  code: a\n  scrubbed: [user_query]\n"
        f"  key: {pinned}\n"
    )
    generator = MockCodeGenerator(cassette=path)
    assert await generator.generate_code(secret_request, []) == "a"  # pinned key: a hit
    monkeypatch.delenv("MY_TOKEN")
    other = REQ.model_copy(update={"user_query": "use <SCRUBBED>"})
    with pytest.raises(CassetteMiss) as info:
        await MockCodeGenerator(cassette=path).generate_code(other, [])
    assert "its user_query held a secret that was scrubbed" in str(info.value)
