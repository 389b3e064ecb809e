"""Where the files shipped with the package are: the cassettes and the documentation.

The wheel puts them inside the package (``replaycodegen/cassettes``, ``replaycodegen/docs``);
a source checkout has them at its top (``cassettes/``, ``docs/``). Messages that point a
user at a document use :func:`doc_path`, so the path they print exists on the user's
machine whichever way the package was installed. Stdlib only, and cheap: no
``importlib.resources`` (a package on the file system is all the wheel installs).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent


def shipped_dir(name: str) -> Path:
    """``replaycodegen/<name>`` inside an installed wheel, else ``<checkout>/<name>``."""
    packaged = PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged
    return CHECKOUT_DIR / name


def doc_path(name: str) -> str:
    """The path of a shipped document (``doc_path("cli.md")``), for messages and help."""
    return str(shipped_dir("docs") / name)
