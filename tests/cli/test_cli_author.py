"""Hand-authoring: ``new``, ``edit`` (with a scripted $EDITOR) and ``craft``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cli import author_cmds, context
from replaycodegen.errors import ApprovalRequired
from replaycodegen.executor import PythonExecutorService
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.maintenance import craft as craft_lib
from replaycodegen.models import ExecutionError
from tests.cli.conftest import DATA, GOOD_CODE, Invoke, request, sha256, stderr_lines

EDITOR = f"{sys.executable} {DATA / 'scripted_editor.py'}"

# -- new ----------------------------------------------------------------------------------


def test_new_defaults_to_the_success_behaviour(invoke: Invoke, isolated: Path) -> None:
    result = invoke("new", "cases/first.yaml")
    assert result.exit_code == 0
    assert "created cases/first.yaml: 1 hand-authored entry (success)" in result.stdout
    cassette = load_cassette(isolated / "cases" / "first.yaml")
    (entry,) = cassette.entries
    assert entry.is_pattern and "results" in entry.code
    assert cassette.description is not None and "new --from-behavior success" in (
        cassette.description
    )


def test_new_from_the_syntax_error_behaviour_is_marked_and_lints_clean(
    invoke: Invoke, isolated: Path
) -> None:
    assert invoke("new", "s.yaml", "--from-behavior", "syntax_error").exit_code == 0
    (entry,) = load_cassette(isolated / "s.yaml").entries
    assert entry.meta["expect"] == "syntax_error"
    assert invoke("lint", "s.yaml").exit_code == 0


def test_new_from_code_file_and_stdin(invoke: Invoke, isolated: Path) -> None:
    (isolated / "code.py").write_text("results = {'value': 7}\n")
    assert invoke("new", "c.yaml", "--code", "code.py", "--description", "seven").exit_code == 0
    cassette = load_cassette(isolated / "c.yaml")
    assert cassette.description == "seven"
    assert [e.code for e in cassette.entries] == ["results = {'value': 7}\n"]
    assert invoke("new", "d.yaml", "--code", "-", input="results = {}\n").exit_code == 0
    assert load_cassette(isolated / "d.yaml").entries[0].code == "results = {}\n"
    assert invoke("run", "--cassette", "c.yaml").exit_code == 0


def test_new_refuses_to_overwrite(invoke: Invoke, sample: Path) -> None:
    before = sha256(sample)
    result = invoke("new", str(sample))
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        f"error: {sample}: exists already; nothing was written; fix: pass --force to replace "
        "it, or choose another path"
    ]
    assert sha256(sample) == before
    assert invoke("new", str(sample), "--force").exit_code == 0
    assert sha256(sample) != before


def test_new_with_invalid_code_needs_allow_invalid(invoke: Invoke, isolated: Path) -> None:
    (isolated / "bad.py").write_text("def broken(:\n")
    refused = invoke("new", "b.yaml", "--code", "bad.py")
    assert refused.exit_code == 2
    assert "does not parse (line 1: " in refused.stderr and "--allow-invalid" in refused.stderr
    assert not (isolated / "b.yaml").exists()
    assert invoke("new", "b.yaml", "--code", "bad.py", "--allow-invalid").exit_code == 0
    assert load_cassette(isolated / "b.yaml").entries[0].meta == {"expect": "syntax_error"}


def test_new_usage_errors(invoke: Invoke, isolated: Path) -> None:
    (isolated / "x.py").write_text("x = 1\n")
    both = invoke("new", "n.yaml", "--from-behavior", "success", "--code", "x.py")
    assert both.exit_code == 2 and "not both" in both.stderr
    unknown = invoke("new", "n.yaml", "--from-behavior", "nope")
    assert unknown.exit_code == 2 and "unknown behaviour 'nope'" in unknown.stderr
    assert not (isolated / "n.yaml").exists()


# -- edit ---------------------------------------------------------------------------------


@pytest.fixture
def editor(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> Any:
    """Set $EDITOR to the scripted editor; ``editor(code)`` makes it save ``code``."""
    monkeypatch.setenv("EDITOR", EDITOR)
    log = isolated.parent / "editor.log"
    monkeypatch.setenv("SCRIPTED_EDITOR_LOG", str(log))

    def will_save(code: str | None) -> Path:
        if code is None:
            monkeypatch.delenv("SCRIPTED_EDITOR_SOURCE", raising=False)
        else:
            source = isolated.parent / "edited.py"
            source.write_text(code, encoding="utf-8")
            monkeypatch.setenv("SCRIPTED_EDITOR_SOURCE", str(source))
        return log

    return will_save


def test_edit_replaces_the_code_and_keeps_the_key_right(invoke: Invoke, sample: Path,
                                                        editor: Any) -> None:
    log = editor("results = {'value': 99}\n")
    result = invoke("edit", str(sample), "e1")
    assert result.exit_code == 0, result.output
    assert f"updated entry e1 of {sample.name}" in result.stdout
    assert log.read_text() == GOOD_CODE  # the editor was shown the entry's code
    cassette = load_cassette(sample)
    entry = cassette.entries[0]
    assert entry.code == "results = {'value': 99}\n"
    assert "edited_at" in entry.meta and entry.meta["model"] == "test-model"
    assert entry.stored_key == entry.key
    assert invoke("lint", str(sample)).exit_code == 0
    assert not list(sample.parent.glob(".sample.yaml.*.tmp"))


def test_edit_recomputes_a_stale_key(invoke: Invoke, sample: Path, editor: Any) -> None:
    sample.write_text(sample.read_text().replace("user_query: add numbers", "user_query: sum"))
    assert invoke("lint", str(sample)).exit_code == 1
    editor("results = {'value': 1}\n")
    assert invoke("edit", str(sample), "e1").exit_code == 0
    assert not load_cassette(sample).entries[0].key_disagrees
    assert invoke("lint", str(sample)).exit_code == 0


def test_edit_without_saving_leaves_the_file_alone(invoke: Invoke, sample: Path,
                                                   editor: Any) -> None:
    editor(None)
    before = sha256(sample)
    result = invoke("edit", str(sample), "e2")
    assert result.exit_code == 0
    assert "no change: sample.yaml is untouched" in result.stdout
    assert sha256(sample) == before


def test_edit_refuses_code_that_does_not_parse(invoke: Invoke, sample: Path,
                                               editor: Any) -> None:
    editor("def broken(:\n    pass\n")
    before = sha256(sample)
    result = invoke("edit", str(sample), "e1")
    assert result.exit_code == 2
    (line,) = stderr_lines(result)
    assert line.startswith(f"error: {sample}: the code of entry 'e1' does not parse (line 1: ")
    assert "--allow-invalid" in line
    assert sha256(sample) == before
    kept = Path(line.split("your edit is kept in ")[1].split(")")[0])
    assert kept.read_text() == "def broken(:\n    pass\n"


def test_edit_allow_invalid_marks_the_entry(invoke: Invoke, sample: Path, editor: Any) -> None:
    editor("def broken(:\n")
    assert invoke("edit", str(sample), "e1", "--allow-invalid").exit_code == 0
    entry = load_cassette(sample).entries[0]
    assert entry.code == "def broken(:\n" and entry.meta["expect"] == "syntax_error"
    assert invoke("lint", str(sample)).exit_code == 0


def test_edit_asks_on_a_terminal(invoke: Invoke, sample: Path, editor: Any,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "stdin_is_interactive", lambda: True)
    editor("def broken(:\n")
    result = invoke("edit", str(sample), "e1", input="y\n")
    assert "Keep it as a deliberate syntax error?" in result.output
    assert result.exit_code == 0
    assert load_cassette(sample).entries[0].meta["expect"] == "syntax_error"


def test_edit_from_a_file(invoke: Invoke, sample: Path, isolated: Path) -> None:
    (isolated / "new.py").write_text("results = {'from_file': True}\n")
    assert invoke("edit", str(sample), "e3", "--code", "new.py").exit_code == 0
    assert load_cassette(sample).entries[2].code == "results = {'from_file': True}\n"


def test_edit_with_a_failing_editor_is_one_line(invoke: Invoke, sample: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", "false")
    before = sha256(sample)
    result = invoke("edit", str(sample), "e1")
    assert result.exit_code == 2
    (line,) = stderr_lines(result)
    assert "Editing failed" in line and "set $EDITOR" in line
    assert sha256(sample) == before


def test_edit_unknown_entry(invoke: Invoke, sample: Path) -> None:
    result = invoke("edit", str(sample), "zz", "--code", "-", input="x = 1\n")
    assert result.exit_code == 2
    assert "no entry with id 'zz'" in result.stderr


# -- craft --------------------------------------------------------------------------------


def test_cli_choices_match_the_library() -> None:
    assert author_cmds.INJECTION_KINDS == craft_lib.INJECTION_KINDS


def test_craft_rewrites_the_entry_as_two_scoped_patterns(invoke: Invoke, sample: Path) -> None:
    result = invoke("craft", str(sample), "--entry", "e1", "--inject", "runtime_error")
    assert result.exit_code == 0
    assert "attempt 1: e1-inject-runtime_error (runtime_error)" in result.stdout
    assert "attempt 2: e1 (the recorded code)" in result.stdout
    cassette = load_cassette(sample)
    assert [e.id for e in cassette.entries] == ["e1-inject-runtime_error", "e1", "e2", "e3"]
    injected, replay = cassette.entries[:2]
    assert injected.when is not None and injected.when.attempt == 1
    assert injected.when.request is not None
    assert injected.when.request["user_query"] == "add numbers"
    assert injected.meta == {"crafted_from": "e1", "inject": "runtime_error"}
    assert replay.when is not None and replay.when.attempt == 2
    assert replay.when.request == injected.when.request
    assert replay.code == GOOD_CODE and replay.meta["model"] == "test-model"
    assert invoke("lint", str(sample)).exit_code == 0


def test_crafted_case_runs_fail_then_fix_on_the_command_line(invoke: Invoke,
                                                             sample: Path) -> None:
    invoke("craft", str(sample), "--entry", "e1", "--inject", "runtime_error")
    result = invoke("run", "--cassette", str(sample))
    assert result.exit_code == 0
    assert "attempt 1: entry e1-inject-runtime_error" in result.stdout
    assert "ZeroDivisionError" in result.stdout
    assert "OK attempt 2 succeeded after 1 failed attempt" in result.stdout


EXPECTED_FAILURE = {
    "syntax_error": ("analysis", "SyntaxError"),
    "runtime_error": ("execution", "ZeroDivisionError"),
    "missing_results": ("execution", "MissingResults"),
    "timeout": ("execution", "TimeoutError"),
    "security_risk": ("analysis", "SecurityRisk"),
    "channel_write": ("execution", "RuntimeError"),
}


@pytest.mark.parametrize("kind", list(EXPECTED_FAILURE))
async def test_crafted_failure_then_recorded_fix_through_the_service(
    invoke: Invoke, sample: Path, tmp_path: Path, kind: str
) -> None:
    result = invoke("craft", str(sample), "--entry", "e1", "--inject", kind)
    assert result.exit_code == 0, result.output
    service = PythonExecutorService(MockCodeGenerator(cassette=sample))
    config = {"thread_id": kind, "configurable": {
        "execution": {"timeout_seconds": 0.5, "execution_root": str(tmp_path / "runs")},
        "approval": {"mode": "control_writes"}}}
    req = request("add numbers")
    if kind == "channel_write":
        with pytest.raises(ApprovalRequired) as pending:
            await service.ainvoke(req, config)
        assert pending.value.code == craft_lib.INJECTED_CODE[kind]
        outcome = await service.aresume(kind, approved=True)
    else:
        outcome = await service.ainvoke(req, config)
    assert outcome.generation_attempt == 2
    assert outcome.generated_code == GOOD_CODE
    assert outcome.execution_result.results == {"value": 42}
    (failure,) = outcome.error_chain
    assert isinstance(failure, ExecutionError)
    assert (failure.stage, failure.error_type) == EXPECTED_FAILURE[kind]
    assert failure.failed_code == craft_lib.INJECTED_CODE[kind]


def test_craft_the_retry_of_a_recorded_failure(invoke: Invoke, sample: Path) -> None:
    result = invoke("craft", str(sample), "--entry", "e3", "--inject", "syntax_error")
    assert result.exit_code == 0
    assert "attempt 2: e3-inject-syntax_error" in result.stdout
    assert "warning: the recorded code now plays at attempt 3" not in result.stderr
    run = invoke("run", "--cassette", str(sample), "--entry", "e2")
    assert run.exit_code == 0
    assert "attempt 1: entry e2" in run.stdout
    assert "attempt 2: entry e3-inject-syntax_error" in run.stdout
    assert "OK attempt 3 succeeded after 2 failed attempts" in run.stdout


def test_craft_warns_when_the_recorded_code_failed_too(invoke: Invoke, sample: Path) -> None:
    result = invoke("craft", str(sample), "--entry", "e2", "--inject", "timeout")
    assert result.exit_code == 0
    assert "entry 'e3' records a retry after 'e2' failed" in result.stderr


def test_craft_to_another_file_leaves_the_recording(invoke: Invoke, sample: Path,
                                                    isolated: Path) -> None:
    before = sha256(sample)
    result = invoke("craft", str(sample), "--entry", "e1", "--inject", "timeout",
                    "-o", "failing.yaml")
    assert result.exit_code == 0
    assert "note: the service's timeout ends it" in result.stdout
    assert sha256(sample) == before
    assert [e.id for e in load_cassette(isolated / "failing.yaml").entries][:2] == [
        "e1-inject-timeout", "e1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entry", "nope", "--inject", "timeout"], "no entry with id 'nope'"),
        (["--entry", "e1", "--inject", "flood"], "'flood' is not one of"),
    ],
)
def test_craft_bad_usage(invoke: Invoke, sample: Path, args: list[str], message: str) -> None:
    before = sha256(sample)
    result = invoke("craft", str(sample), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert sha256(sample) == before


def test_craft_refuses_a_hand_authored_entry_and_a_second_craft(invoke: Invoke,
                                                                sample: Path) -> None:
    assert invoke("craft", str(sample), "--entry", "e1", "--inject", "timeout").exit_code == 0
    before = sha256(sample)
    again = invoke("craft", str(sample), "--entry", "e1", "--inject", "timeout")
    assert again.exit_code == 2
    assert "entry 'e1' is hand-authored" in again.stderr
    assert sha256(sample) == before
