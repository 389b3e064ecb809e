"""The lifecycle of cassettes: what operates on whole cassettes and recording sessions, one
layer above the store and below the command line and the pytest plugin (freshness,
provenance, budgets, bulk recording, reports...)."""
