"""PEP 562 lazy attributes: a module's public names, imported when first asked for.

``__getattr__, __dir__ = lazy_exports(__name__, {"Name": "package.module", ...})`` at the
end of a module makes ``module.Name`` import ``package.module`` on first access and keep
the value in the module's namespace (so ``unittest.mock.patch`` of the name works as for
any attribute).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    module_name: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``module_name`` for ``exports`` (name -> module)."""
    namespace = vars(sys.modules[module_name])

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            # asked on every ``from module import x`` (``__path__``): keep it cheap
            raise AttributeError(name if name.startswith("__") else
                                 f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
