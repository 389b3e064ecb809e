"""The ``--codegen-report`` file of one process tree (see ``replaycodegen.lifecycle.ci.reports``).

Built on the controller at the end of the session from the merged ledger; nothing is read
from disk except the listing of the cassette folders (and, in an unsharded complete run,
the few orphaned files, to confirm they are cassettes and to read their keys).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path

import pytest

from replaycodegen.atomic import write_json
from replaycodegen.lifecycle.ci.orphans import cassette_files, find_orphans
from replaycodegen.lifecycle.ci.outputs import output_path, portable, utc_now
from replaycodegen.lifecycle.ci.reports import (
    CassetteRecord,
    MissNote,
    RunReport,
    TestRecord,
)

from ._report import CassetteReport, CodegenLedger
from ._shard import RunIdentity, raw_output

NODE_ID_RUN = ("tests were chosen by node id (file.py::test), so other tests sharing a "
               "cassette did not run")
LOST_WORKER = "an xdist worker crashed before reporting, so what its tests played is unknown"


def partial_reasons(config: pytest.Config, ledger: CodegenLedger) -> list[str]:
    reasons = []
    if any("::" in str(arg) for arg in config.args):
        reasons.append(NODE_ID_RUN)
    if ledger.lost_worker:
        reasons.append(LOST_WORKER)
    return reasons


def covered_folders(config: pytest.Config, modules: Iterable[str],
                    cassette_dir: Path | None) -> list[Path]:
    """The cassette folders in which every owner was collected: whole cassette roots when
    the run collected everything below them, else the folders of the collected modules.

    ``--lf`` and ``--ignore`` leave modules uncollected, so they narrow it to the modules.
    """
    narrowed = bool(config.getoption("lf", False) or config.getoption("ignore", None)
                    or config.getoption("ignore_glob", None))
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    invoked = config.invocation_params.dir
    args = [(str(a), Path(os.path.abspath(invoked / str(a).split("::")[0])))
            for a in config.args]
    by_node_id = {path for arg, path in args if "::" in arg}
    folders = [path for arg, path in args if "::" not in arg and path.is_dir()]
    covered: set[Path] = set()
    for name in modules:
        module = Path(name)
        if module in by_node_id:
            continue
        root = cassette_dir if cassette_dir is not None else module.parent / "cassettes"
        whole = not narrowed and (not explicit or (
            cassette_dir is None and any(module.parent.is_relative_to(f) for f in folders)))
        covered.add(root if whole else root / module.stem)
    return sorted(covered)


def build_run_report(config: pytest.Config, ledger: CodegenLedger,
                     reports: list[CassetteReport], ident: RunIdentity,
                     cassette_dir: Path | None) -> RunReport:
    root = config.rootpath

    def here(path: str | os.PathLike[str]) -> str:
        return portable(path, root)

    partial = partial_reasons(config, ledger)
    report = RunReport(run_id=ident.run_id, started_at=ident.started_at or utc_now(),
                       finished_at=utc_now(), root=str(root), shard=ident.shard,
                       host=socket.gethostname(), pid=os.getpid(), partial=partial,
                       collected=sorted(ledger.collected), passed=sorted(ledger.passed))
    report.deselected = {test: here(path) for test, path in sorted(ledger.deselected.items())}
    report.owned = {here(path): sorted(tests) for path, tests in sorted(ledger.expected.items())}
    for test, raw in sorted(ledger.tests.items()):
        report.tests[test] = TestRecord(
            here(raw["cassette"]), raw["played"], raw["recorded"], raw["dropped"],
            [MissNote(m["reason"], m.get("key"), m.get("closest", [])) for m in raw["misses"]])
    for item in reports:
        tally = ledger.tallies[item.path]
        report.cassettes[here(item.path)] = CassetteRecord(
            entries=ledger.entries.get(item.path), played=item.played, recorded=item.recorded,
            dropped=item.dropped, misses=item.misses, users=sorted(tally.users),
            owners=sorted(ledger.expected.get(item.path, ())), unused=item.unused,
            checked=item.checked)
    folders = covered_folders(config, ledger.modules, cassette_dir)
    report.cassette_dirs = [here(f) for f in folders]
    files = {here(f): f for f in cassette_files(folders)}
    report.cassette_files = sorted(files)
    if not ident.shard.sharded and not partial:
        owned = set(report.owned) | set(report.deselected.values()) | {
            t.cassette for t in report.tests.values()} | set(report.cassettes)
        misses = [(test, miss) for test, t in report.tests.items() for miss in t.misses]
        report.orphans = find_orphans(files, owned, misses)
    return report


def write_run_report(config: pytest.Config, report: RunReport) -> Path | None:
    """Write the report where ``--codegen-report`` says (see ``lifecycle.outputs``)."""
    raw = raw_output(config, "report")
    if raw is None:
        return None
    path = output_path(raw[0], report.shard, stem="codegen-report", suffix=".json",
                       base=raw[1])
    from replaycodegen.cassette.scrub import Scrubber

    # Test ids can hold secrets (a key in a parametrize id): scrubbed like a cassette.
    write_json(path, Scrubber().data(report.to_data()))
    return path
