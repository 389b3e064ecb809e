"""Where the files shipped with the package are: the cassettes and the documentation.

The wheel puts them inside the package (``replaycodegen/cassettes``, ``replaycodegen/docs``);
a source checkout has them at its top (``cassettes/``, ``docs/``). Messages that point a
user at a document use :func:`doc_path`, so the path they print exists on the user's
machine whichever way the package was installed. Stdlib only and cheap (``--help`` uses
it): ``os.path``, no ``pathlib`` or ``importlib.resources`` at import.
"""

from __future__ import annotations

import os.path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))
CHECKOUT_DIR = os.path.dirname(PACKAGE_DIR)


def _shipped(name: str) -> str:
    packaged = os.path.join(PACKAGE_DIR, name)
    return packaged if os.path.isdir(packaged) else os.path.join(CHECKOUT_DIR, name)


def shipped_dir(name: str) -> Path:
    """``replaycodegen/<name>`` inside an installed wheel, else ``<checkout>/<name>``."""
    from pathlib import Path

    return Path(_shipped(name))


def doc_path(name: str) -> str:
    """The path of a shipped document (``doc_path("cli.md")``), for messages and help."""
    return os.path.join(_shipped("docs"), name)
