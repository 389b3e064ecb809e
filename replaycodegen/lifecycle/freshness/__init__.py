"""Keeping cassettes fresh: ``status`` (prompt drift, model changes, age, hand edits), the
project's freshness settings, and scoped re-recording in place."""
