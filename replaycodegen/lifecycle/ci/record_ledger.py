"""Record exactly the calls a miss ledger lists, each into its own cassette, with the real
generator: one generator call per missed (request, error chain), nothing else.

Misses of the same call (same cassette and key, from several tests or shards) are recorded
once; a call made more often than recorded ("all matches already played") gets as many new
entries as one test was short of. A call whose key no longer matches what the ledger says
(its request held a secret the ledger scrubbed) is not recorded, and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from replaycodegen.cassette.miss import ALL_PLAYED
from replaycodegen.errors import ReplayCodegenError
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.lifecycle.ci.ledger import MissRecord
from replaycodegen.lifecycle.ci.outputs import resolve

RECORDED, SKIPPED, FAILED = "recorded", "skipped", "failed"
DESCRIPTION = "Recorded from a miss ledger (replaycodegen record --from-ledger)"


@dataclass
class PlannedCall:
    """One call to record: the ledger line that describes it and how many entries it needs."""

    cassette: Path
    record: MissRecord
    count: int = 1
    tests: list[str] = field(default_factory=list)


@dataclass
class CallResult:
    call: PlannedCall
    status: str
    entry_ids: list[str] = field(default_factory=list)
    message: str = ""


def plan(records: Sequence[MissRecord], base: Path | None = None) -> list[PlannedCall]:
    """The calls to record, one per (cassette, key), in ledger order."""
    calls: dict[tuple[Path, str], PlannedCall] = {}
    repeats: dict[tuple[Path, str, str], int] = {}
    for record in records:
        cassette = resolve(record.cassette, [record.root] if record.root else [], base)
        slot = (cassette, record.key)
        call = calls.setdefault(slot, PlannedCall(cassette, record, 0))
        if record.test not in call.tests:
            call.tests.append(record.test)
        if record.reason == ALL_PLAYED:
            count = repeats[(*slot, record.test)] = repeats.get((*slot, record.test), 0) + 1
            call.count = max(call.count, count)
        else:
            call.count = max(call.count, 1)
    return list(calls.values())


async def record_calls(calls: Sequence[PlannedCall], generator: CodeGenerator,
                       on_result: Callable[[CallResult], None] | None = None
                       ) -> list[CallResult]:
    """Record every planned call through ``generator`` (see the module docstring)."""
    from replaycodegen.generation.recording import RecordingCodeGenerator

    results: list[CallResult] = []
    by_cassette: dict[Path, list[PlannedCall]] = {}
    for call in calls:
        by_cassette.setdefault(call.cassette, []).append(call)
    for path, group in by_cassette.items():
        match_on = None if path.exists() else group[0].record.match_on
        try:
            recorder = RecordingCodeGenerator(generator, path, "new_episodes", match_on=match_on,
                                              description=DESCRIPTION)
        except ReplayCodegenError as exc:
            for call in group:
                results.append(_report(CallResult(call, FAILED, message=str(exc)), on_result))
            continue
        try:
            for call in group:
                results.append(_report(await _record_one(recorder, call), on_result))
        finally:
            recorder.close()
    return results


def _report(result: CallResult, on_result: Callable[[CallResult], None] | None) -> CallResult:
    if on_result is not None:
        on_result(result)
    return result


async def _record_one(recorder: object, call: PlannedCall) -> CallResult:
    from replaycodegen.generation.recording import RecordingCodeGenerator

    assert isinstance(recorder, RecordingCodeGenerator)
    record = call.record
    try:
        request, chain = record.python_request(), record.python_chain()
    except (TypeError, ValueError) as exc:
        return CallResult(call, FAILED, message=f"{record.where}: the request cannot be "
                          f"rebuilt: {exc}")
    cassette = recorder.cassette
    key = cassette.key_for(request, chain)
    if key != record.key:
        why = ("its request held a secret that the ledger scrubbed" if record.scrubbed else
               "the cassette keys on other fields than the test did")
        return CallResult(call, FAILED, message=f"not recorded: the key differs from the "
                          f"ledger's ({why}); "
                          f"record it by running {record.test} with "
                          "--codegen-record-mode=new_episodes")
    existing = [e.id for e in cassette.group(key)]
    if existing and record.reason != ALL_PLAYED:
        return CallResult(call, SKIPPED, message=f"already in the cassette ({', '.join(existing)}"
                          "); nothing recorded")
    ids: list[str] = []
    for _ in range(call.count):
        cassette.set_position(key, len(cassette.group(key)))
        before = len(recorder.recorded)
        try:
            await recorder.generate_code(request, chain)
        except Exception as exc:  # the real generator failed: nothing is recorded
            return CallResult(call, FAILED, ids, f"{type(exc).__name__}: {exc}")
        ids.extend(e.id for e in recorder.recorded[before:])
    return CallResult(call, RECORDED, ids)
