"""``python -m replaycodegen.cli``: the same as the ``replaycodegen`` command."""

from replaycodegen.cli import main

main()
