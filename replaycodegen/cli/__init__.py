"""The ``replaycodegen`` command line: a thin shell over the library (docs/cli.md)."""

from __future__ import annotations

from collections.abc import Sequence

from replaycodegen.cli.app import cli


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``replaycodegen`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="replaycodegen")


__all__ = ["cli", "main"]
