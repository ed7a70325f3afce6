"""Package names resolved on first use (PEP 562), for packages whose submodules import one another.

A package ``__init__`` that imported its submodules eagerly would put each on an import cycle, and two
threads importing it at once (two app sessions, or a page and the warm-up) could see a partially
initialised module. ``__getattr__, __dir__ = lazy_exports(globals(), {"name": "package.module", ...})``
keeps the import graph acyclic instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose ``exports`` map each name to the module defining it.

    A name is imported from its module on first access and then cached in ``namespace`` (the package's globals).
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
