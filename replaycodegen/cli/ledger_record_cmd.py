"""``replaycodegen record --from-ledger``: record exactly the misses that ledgers list
(logic in ``replaycodegen.lifecycle.ci.record_ledger``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from replaycodegen.cli.context import State, display_path
from replaycodegen.cli.errors import RunFailed, emit_json
from replaycodegen.cli.lifecycle_cmds import report_inputs
from replaycodegen.plural import plural

if TYPE_CHECKING:
    from replaycodegen.lifecycle.ci.record_ledger import CallResult, PlannedCall


def _call_line(call: PlannedCall) -> str:
    from replaycodegen.cli.render import one_line, short_key

    record = call.record
    many = plural(call.count, "entry")
    tests = ", ".join(call.tests[:3]) + (f" and {len(call.tests) - 3} more"
                                         if len(call.tests) > 3 else "")
    query = one_line(str(record.request.get("user_query", "")), 60)
    return (f"{display_path(call.cassette)}: {many} for {tests} ({record.reason}; key "
            f"{short_key(record.key)}; attempt {len(record.error_chain) + 1}; "
            f"user_query={query!r})")


def record_from_ledger(state: State, ledgers: Sequence[str], *, model: str | None,
                       base_url: str | None, dry_run: bool) -> None:
    """``replaycodegen record --from-ledger``: record exactly the misses the ledgers list."""
    import asyncio

    from replaycodegen.lifecycle.ci.ledger import read_ledger
    from replaycodegen.lifecycle.ci.record_ledger import FAILED, RECORDED, plan, record_calls

    records = [r for file, _ in report_inputs(ledgers, "*.jsonl") for r in read_ledger(file)]
    out = state.out
    calls = plan(records)
    if not calls or dry_run:
        if state.as_json:
            emit_json({"dry_run": dry_run, "misses": len(records), "recorded": 0,
                       "calls": [_call_data(call) for call in calls]})
        elif not calls:
            out.echo("nothing to record: the ledger lists no misses")
        else:
            out.heading(f"would record {plural(len(calls), 'call')} "
                        f"({plural(len(records), 'miss', 'misses')} in the ledger); nothing "
                        "was called")
            for call in calls:
                out.echo(f"  {_call_line(call)}")
        return
    from replaycodegen.cli.record_setup import real_generator

    generator = real_generator(model, base_url)

    def show(result: CallResult) -> None:
        if state.as_json:
            return
        if result.status == RECORDED:
            out.echo(out.style("recorded", fg="green") + f" {', '.join(result.entry_ids)}: "
                     + _call_line(result.call))
        else:
            label = out.style(result.status, fg="red" if result.status == FAILED else "yellow")
            out.echo(f"{label} {_call_line(result.call)}: {result.message}")

    results = asyncio.run(record_calls(calls, generator, on_result=show))
    recorded = sum(len(r.entry_ids) for r in results if r.status == RECORDED)
    failed = [r for r in results if r.status == FAILED]
    cassettes = len({r.call.cassette for r in results if r.status == RECORDED})
    error = (RunFailed(f"{plural(len(failed), 'missed call')} "
                       f"{'was' if len(failed) == 1 else 'were'} not recorded (each one's "
                       "message says why)") if failed else None)
    if state.as_json:
        emit_json({"dry_run": False, "misses": len(records), "recorded": recorded,
                   "cassettes": cassettes,
                   "calls": [{**_call_data(r.call), "status": r.status,
                              "entry_ids": r.entry_ids, "message": r.message or None}
                             for r in results]}, error)
        return
    out.heading(f"recorded {plural(recorded, 'entry')} into {plural(cassettes, 'cassette')} "
                f"from {plural(len(calls), 'missed call')}"
                + (f"; {len(failed)} not recorded" if failed else ""))
    if error is not None:
        raise error


def _call_data(call: PlannedCall) -> dict[str, Any]:
    record = call.record
    return {"cassette": str(call.cassette), "entries": call.count, "tests": list(call.tests),
            "reason": record.reason, "key": record.key,
            "attempt": len(record.error_chain) + 1,
            "user_query": record.request.get("user_query")}
