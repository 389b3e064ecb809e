"""Maintenance: ``lint`` (and ``--fix``), ``rehash``, ``prune``, ``scrub``."""

from __future__ import annotations

import json
from pathlib import Path

from replaycodegen.cassette.behaviors import shipped_cassettes_dir
from replaycodegen.cassette.loading.loader import load_cassette
from tests.cli.conftest import (
    BROKEN_CODE,
    Invoke,
    name_error,
    request,
    sha256,
    stderr_lines,
    write_cassette,
)

SECRET = "sk-" + "live0123456789abcdefghijklmnop"  # built, so scanners see no key


def stale(path: Path) -> Path:
    """Edit a request by hand, so its stored key no longer agrees."""
    path.write_text(path.read_text().replace("user_query: add numbers", "user_query: sum"))
    return path


def leaky(path: Path) -> Path:
    """Put the secret where LEAK is (the store scrubs what it writes, so edit the file)."""
    path.write_text(path.read_text().replace("LEAK", SECRET))
    return path


# -- lint ---------------------------------------------------------------------------------


def test_shipped_cassettes_lint_clean(invoke: Invoke) -> None:
    result = invoke("lint", str(shipped_cassettes_dir()))
    assert result.exit_code == 0, result.output
    assert "10 files checked: 10 clean, 0 findings" in result.stdout  # 9 behaviours + demo


def test_a_clean_cassette(invoke: Invoke, sample: Path) -> None:
    result = invoke("lint", str(sample))
    assert result.exit_code == 0
    assert result.stdout == "1 file checked: 1 clean, 0 findings\n"


def test_stale_key_is_a_finding_and_fix_rewrites_it(invoke: Invoke, sample: Path) -> None:
    stale(sample)
    result = invoke("lint", str(sample))
    assert result.exit_code == 1
    (finding,) = [line for line in result.stdout.splitlines() if "stale-key" in line]
    key_line = next(n for n, text in enumerate(sample.read_text().splitlines(), 1)
                    if text.strip().startswith("key:"))
    assert finding.startswith(f"{sample}:{key_line}: stale-key: entry 'e1': the stored key")
    assert "fix: `replaycodegen rehash" in finding
    fixed = invoke("lint", "--fix", str(sample))
    assert fixed.exit_code == 0
    assert fixed.stdout.startswith("fixed ")
    assert invoke("lint", str(sample)).exit_code == 0


def test_duplicates(invoke: Invoke, isolated: Path) -> None:
    path = write_cassette(isolated / "dup.yaml", [
        (request("q"), [], "x = 1\n"), (request("q"), [], "x = 1\n"), (request("q"), [], "y = 2\n"),
    ])
    text = path.read_text() + (
        "  - id: p1\n    when: {attempt: 2}\n    code: z = 3\n"
        "  - id: p2\n    when: {attempt: 2}\n    code: z = 3\n"
    )
    path.write_text(text)
    result = invoke("lint", str(path))
    assert result.exit_code == 1
    findings = [line for line in result.stdout.splitlines() if "duplicate" in line]
    assert len(findings) == 2
    assert "entry 'e2' repeats entry 'e1' (same key and same code)" in findings[0]
    assert "entry 'p2' repeats entry 'p1' (same pattern and same code)" in findings[1]


def test_code_that_does_not_parse(invoke: Invoke, isolated: Path) -> None:
    path = isolated / "syntax.yaml"
    path.write_text(
        "version: 1\nentries:\n"
        "  - id: oops\n    when: {attempt: 1}\n    code: |\n      x = 1\n      def f(:\n"
        "  - id: meant\n    when: {attempt: 2}\n    code: |\n      def g(:\n"
        "    meta: {expect: syntax_error}\n"
        "  - id: crafted\n    when: {attempt: 3}\n    code: |\n      def h(:\n"
        "    meta: {inject: syntax_error, crafted_from: e1}\n"
        "  - id: wrong\n    when: {attempt: 4}\n    code: x = 1\n"
        "    meta: {expect: syntax_error}\n",
        encoding="utf-8",
    )
    result = invoke("lint", str(path))
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if ": syntax" in line
             or "expect-mismatch" in line]
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:7: syntax: entry 'oops': the code does not parse "
                               "(line 2: ")
    assert "add `meta: {expect: syntax_error}`" in lines[0]
    assert lines[1].startswith(f"{path}:21: expect-mismatch: entry 'wrong'")


def test_a_recorded_syntax_error_is_expected(invoke: Invoke, isolated: Path) -> None:
    from replaycodegen.models import ExecutionError

    rejected = ExecutionError(error_type="SyntaxError", error_message="SyntaxError: bad",
                              stage="analysis")
    path = write_cassette(isolated / "rec.yaml", [
        (request("q"), [], "def f(:\n"), (request("q"), [rejected], "x = 1\n"),
    ])
    assert invoke("lint", str(path)).exit_code == 0
    lonely = write_cassette(isolated / "lonely.yaml", [(request("q"), [], "def f(:\n")])
    assert invoke("lint", str(lonely)).exit_code == 1


def test_secrets_are_found_never_printed_and_fixed(invoke: Invoke, isolated: Path) -> None:
    path = leaky(write_cassette(isolated / "leak.yaml", [
        (request("q"), [], 'API_KEY = "LEAK"\nresults = {}\n'),
    ]))
    text = path.read_text()
    path.write_text(text.replace("code: |", f"description: uses {SECRET}\n    code: |", 1))
    result = invoke("lint", str(path))
    assert result.exit_code == 1
    (finding,) = [line for line in result.stdout.splitlines() if "secret" in line]
    assert "entry 'e1' stores a secret in description, code" in finding
    assert SECRET not in result.output
    assert invoke("lint", "--fix", str(path)).exit_code == 0
    assert SECRET not in path.read_text() and "<SCRUBBED>" in path.read_text()


def test_torn_tail_is_dropped_by_fix(invoke: Invoke, sample: Path) -> None:
    text = sample.read_text()
    last = text[text.rindex("  - id: e3"):]
    torn = last.replace("id: e3", "id: e4")
    sample.write_text(text + torn[: torn.rindex("    key:")])  # killed before the key
    result = invoke("lint", str(sample))
    assert result.exit_code == 1
    assert "torn-tail: the last entry was cut short" in result.stdout
    assert invoke("lint", "--fix", str(sample)).exit_code == 0
    assert [e.id for e in load_cassette(sample).entries] == ["e1", "e2", "e3"]


def test_lint_json_and_several_files(invoke: Invoke, sample: Path, isolated: Path) -> None:
    other = write_cassette(isolated / "other.yaml", [(request("q"), [], "x = 1\n")])
    stale(sample)
    (isolated / "broken.yaml").write_text("entries: []\n")
    result = invoke("lint", "--json", str(sample), str(other), "broken.yaml")
    assert result.exit_code == 2  # a file that cannot be loaded wins
    data = json.loads(result.stdout)
    assert data["findings"] == 1 and data["unloadable"] == 1
    by_name = {Path(f["path"]).name: f for f in data["files"]}
    assert by_name["sample.yaml"]["findings"][0]["rule"] == "stale-key"
    assert by_name["sample.yaml"]["findings"][0]["fixable"] is True
    assert by_name["other.yaml"]["findings"] == []
    assert by_name["broken.yaml"]["loaded"] is False
    assert "broken.yaml:1: missing version" in by_name["broken.yaml"]["error"]


def test_lint_a_folder_reports_bad_files_and_goes_on(invoke: Invoke, sample: Path,
                                                     isolated: Path) -> None:
    (isolated / "broken.yaml").write_text("version: 1\nentries: {e1: x}\n")
    result = invoke("lint", ".")
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "error: broken.yaml:2: entries must be a list, not a mapping (field: entries)"
    ]
    assert "2 files checked: 1 clean, 0 findings, 1 not loadable" in result.stdout


# -- rehash -------------------------------------------------------------------------------


def test_rehash_rewrites_stale_keys_only(invoke: Invoke, sample: Path, isolated: Path) -> None:
    other = write_cassette(isolated / "other.yaml", [(request("q"), [], "x = 1\n")])
    before = sha256(other)
    stale(sample)
    result = invoke("rehash", str(sample), str(other))
    assert result.exit_code == 0
    assert "sample.yaml: rewrote 1 key (e1)" in result.stdout
    assert "other.yaml: keys up to date (untouched)" in result.stdout
    assert sha256(other) == before
    assert not load_cassette(sample).entries[0].key_disagrees


def test_rehash_adds_missing_keys(invoke: Invoke, isolated: Path) -> None:
    path = isolated / "hand.yaml"
    path.write_text("version: 1\nentries:\n  - id: r1\n    request:\n      user_query: q\n"
                    "      task_objective: o\n    code: x = 1\n")
    assert "rewrote 1 key (r1)" in invoke("rehash", str(path)).stdout
    assert load_cassette(path).entries[0].stored_key is not None


def test_rehash_goes_on_after_a_bad_file(invoke: Invoke, sample: Path, isolated: Path) -> None:
    stale(sample)
    result = invoke("rehash", "missing.yaml", str(sample))
    assert result.exit_code == 2
    assert stderr_lines(result) == [
        "error: missing.yaml: no such cassette file; fix: check the path"
    ]
    assert "rewrote 1 key" in result.stdout


# -- prune --------------------------------------------------------------------------------


def report(path: Path, cassettes: dict[str, list[str]]) -> Path:
    path.write_text(json.dumps({"version": 1, "cassettes": {
        name: {"played": [], "recorded": [], "unused": unused, "misses": 0}
        for name, unused in cassettes.items()}}))
    return path


def test_prune_removes_the_unused_entries(invoke: Invoke, sample: Path, isolated: Path) -> None:
    other = write_cassette(isolated / "other.yaml", [(request("q"), [], "x = 1\n")])
    before_other = sha256(other)
    rep = report(isolated / "report.json", {str(sample.resolve()): ["e2", "e9"]})
    result = invoke("prune", str(sample), str(other), "--unused-from", str(rep))
    assert result.exit_code == 0
    assert "sample.yaml: removed 1 unused entry: e2" in result.stdout
    assert "sample.yaml: entry 'e9' is not in the file (already removed?); skipped" in (
        result.stdout
    )
    assert "other.yaml: not in the report; nothing to prune" in result.stdout
    assert [e.id for e in load_cassette(sample).entries] == ["e1", "e3"]
    assert sha256(other) == before_other


def test_prune_defaults_to_the_reported_cassettes_and_relative_paths(
    invoke: Invoke, sample: Path, isolated: Path
) -> None:
    rep = report(isolated / "report.json", {"sample.yaml": ["e1"]})
    dry = invoke("prune", "--unused-from", str(rep), "--dry-run")
    assert "sample.yaml: would remove 1 unused entry: e1" in dry.stdout
    assert len(load_cassette(sample).entries) == 3
    assert invoke("prune", "--unused-from", str(rep)).exit_code == 0
    assert [e.id for e in load_cassette(sample).entries] == ["e2", "e3"]


def test_prune_with_a_bad_report_exits_2(invoke: Invoke, sample: Path, isolated: Path) -> None:
    before = sha256(sample)
    (isolated / "r.json").write_text('{"version": 1, "cassettes": {"sample.yaml": {"unused": 3}}')
    result = invoke("prune", str(sample), "--unused-from", "r.json")
    assert result.exit_code == 2
    assert stderr_lines(result)[0].startswith("error: r.json:1: the report is not JSON")
    (isolated / "r.json").write_text('{"version": 2, "cassettes": {}}')
    assert "not a replaycodegen report of version 1" in invoke(
        "prune", "--unused-from", "r.json").stderr
    missing = invoke("prune", "--unused-from", "nope.json")
    assert missing.exit_code == 2 and "no such report file" in missing.stderr
    assert sha256(sample) == before


# -- scrub --------------------------------------------------------------------------------


def test_scrub_replaces_secrets_in_place(invoke: Invoke, isolated: Path) -> None:
    path = leaky(write_cassette(isolated / "leak.yaml", [
        (request("use key LEAK"), [], 'key = "LEAK"\n'),
        (request("clean"), [name_error(BROKEN_CODE)], "x = 1\n"),
    ]))
    result = invoke("scrub", str(path))
    assert result.exit_code == 0
    assert "leak.yaml: scrubbed entry e1 (request.user_query, code)" in result.stdout
    assert SECRET not in result.output
    assert SECRET not in path.read_text()
    entry = load_cassette(path).entries[0]
    assert entry.code == 'key = "<SCRUBBED>"\n'
    # keyed on the scrubbed text: no pinned hash of the secret, and the key agrees
    assert entry.scrubbed == [] and entry.request == {**entry.request,
                                                      "user_query": "use key <SCRUBBED>"}
    assert entry.stored_key == entry.key
    assert invoke("lint", str(path)).exit_code == 0


def test_scrub_leaves_clean_files_untouched(invoke: Invoke, sample: Path) -> None:
    before = sha256(sample)
    result = invoke("scrub", str(sample))
    assert result.exit_code == 0
    assert "no secrets found (untouched)" in result.stdout
    assert sha256(sample) == before


def test_scrub_finds_secret_environment_values(invoke: Invoke, sample: Path) -> None:
    result = invoke("scrub", str(sample), env={"MY_SERVICE_TOKEN": "add numbers"})
    assert "scrubbed entry e1 (request.user_query)" in result.stdout
