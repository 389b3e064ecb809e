"""Operations on whole cassettes: lint, craft, rehash, prune, diff, scrub.

The command line and the pytest plugin call these; they read through the loader and write
only through ``replaycodegen.cassette.writing.store``.
"""
