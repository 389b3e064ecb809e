"""The cassette layer: the in-memory model, keys, YAML I/O, the loader, the store and the scrubber.

Import the modules directly (``replaycodegen.cassette.model``, ``.loader``, ``.store``);
this package initialiser imports nothing, so that each user pays only for what it uses.
"""
