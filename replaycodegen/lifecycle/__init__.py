"""CI at scale: shard-aware reports and ``combine``, orphaned cassettes, the miss ledger and
the git merge driver.

- :mod:`~replaycodegen.lifecycle.shards`: which shard of a CI matrix a run is;
- :mod:`~replaycodegen.lifecycle.outputs`: output file names that never collide, report paths;
- :mod:`~replaycodegen.lifecycle.reports`: the ``--codegen-report`` format (versioned), read
  and validated;
- :mod:`~replaycodegen.lifecycle.combine`: many shard reports into one verdict on unused
  entries and orphans;
- :mod:`~replaycodegen.lifecycle.orphans`: cassette files that no collected test owns;
- :mod:`~replaycodegen.lifecycle.ledger`: the miss ledger (one JSON line per miss);
- :mod:`~replaycodegen.lifecycle.record_ledger`: recording exactly what a ledger lists;
- :mod:`~replaycodegen.lifecycle.merge_driver`: three-way merge of cassettes, entry by entry.

Nothing here is imported by ``import replaycodegen`` or by the pytest plugin until used.
"""
