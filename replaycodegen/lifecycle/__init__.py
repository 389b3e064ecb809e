"""The lifecycle of cassettes, one layer above the store and below the shells (the CLI and
the pytest plugin):

- :mod:`replaycodegen.lifecycle.ci`: CI at scale: shard-aware reports and ``combine``,
  orphaned cassettes, the miss ledger and recording from it;
- :mod:`replaycodegen.lifecycle.freshness`: ``status`` (drift and blast radius), the
  project's freshness settings, scoped re-recording in place;
- :mod:`replaycodegen.lifecycle.merge_driver`: the git merge driver, entry by entry.

Nothing here is imported by ``import replaycodegen`` or by the pytest plugin until used.
"""
