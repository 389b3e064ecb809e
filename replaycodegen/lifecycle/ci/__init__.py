"""CI at scale: shard-aware run reports and ``combine``, orphaned cassettes, the miss ledger
and recording from it, and where those files are written."""
