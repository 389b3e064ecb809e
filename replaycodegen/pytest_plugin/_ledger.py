"""After each test: account for what it did with its cassette (the report) and append its
misses to the miss ledger (``--codegen-ledger``), as the test's own process sees them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from ._shard import identity
from ._state import plugin_state

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Cassette
    from replaycodegen.generation.missed import MissedCall
    from replaycodegen.lifecycle.ci.ledger import LedgerWriter

    from ._generators import GeneratorInUse

WRITER_KEY = pytest.StashKey["LedgerWriter"]()


def _in_memory_ids(handle: GeneratorInUse) -> tuple[list[str], bool]:
    """The entry ids of the test's cassette as it is in memory, and whether the test may
    have changed it (recording)."""
    recorder = handle.recorder
    cassette: Cassette | None = (recorder.cassette if recorder is not None
                                 else getattr(handle.generator, "file_cassette", None))
    if cassette is None:
        return [], False
    return [e.id for e in cassette.entries if e.id not in handle.dropped], recorder is not None


def _key(call: MissedCall, match_on: Sequence[str]) -> str:
    from replaycodegen.cassette.keys import fingerprint_fields, key_chain, request_fields

    if call.error.key:
        return call.error.key
    return fingerprint_fields(request_fields(call.request, match_on), key_chain(call.error_chain))


def ledger_writer(config: pytest.Config) -> LedgerWriter | None:
    """The miss-ledger writer of this process (``None`` without ``--codegen-ledger``)."""
    writer = config.stash.get(WRITER_KEY, None)
    path = identity(config).ledger_path
    if writer is None and path is not None:
        from replaycodegen.lifecycle.ci.ledger import LedgerWriter

        writer = config.stash[WRITER_KEY] = LedgerWriter(path)
    return writer


def account_for_test(config: pytest.Config, test_id: str, handle: GeneratorInUse) -> None:
    """Tally the test's cassette use and write its misses to the ledger."""
    missed: list[MissedCall] = list(getattr(handle.generator, "missed_calls", ()))
    notes: list[dict[str, Any]] = []
    fields: tuple[str, ...] = ()
    if missed:
        from replaycodegen.cassette.keys import DEFAULT_MATCH_ON

        cassette = getattr(handle.generator, "cassette", None)
        fields = tuple(getattr(cassette, "match_on", None) or handle.match_on
                       or DEFAULT_MATCH_ON)
        notes = [{"reason": call.error.reason, "key": _key(call, fields),
                  "closest": call.error.closest} for call in missed]
    use = handle.use()
    if use is not None:
        tallies = plugin_state(config).ledger
        known = str(use.path) in tallies.entries and use.recorded == set()
        ids, changes = ([], False) if known else _in_memory_ids(handle)
        tallies.add_use(use, test_id, entry_ids=None if known else ids, changes=changes,
                        misses=notes)
    would = getattr(handle.generator, "would_call", ())
    if would and handle.path is not None:
        from replaycodegen.cassette.scrub import environment_scrubber

        scrub = environment_scrubber().text
        plugin_state(config).ledger.would_call.extend(
            {"test": scrub(test_id), "cassette": scrub(str(handle.path)),
             "query": scrub(request.user_query), "attempt": len(chain) + 1, "why": why}
            for request, chain, why in would)
    if not missed or handle.path is None:
        return
    writer = ledger_writer(config)
    if writer is None:
        return
    from replaycodegen.lifecycle.ci.ledger import make_record
    from replaycodegen.lifecycle.ci.outputs import portable

    ident = identity(config)
    root = config.rootpath
    writer.append(make_record(
        cassette=portable(handle.path, root), root=str(root), test=test_id,
        request=call.request, chain=call.error_chain, key=note["key"], match_on=fields,
        reason=call.error.reason, closest=call.error.closest, shard=ident.shard.label,
        run_id=ident.run_id) for call, note in zip(missed, notes, strict=True))
