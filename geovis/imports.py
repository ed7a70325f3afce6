"""One lock for the app's module imports, so concurrent sessions never see a half-imported module.

Streamlit runs every session's script in its own thread. Python's per-module import locks keep concurrent
imports safe only along an acyclic import graph, and many libraries (pandas, torch, streamlit's own lazy
imports) have cycles inside: two sessions importing such a library for the first time at the same moment,
or a page and the warm-up, can raise "partially initialized module". ``app.py`` therefore imports the
chosen page's top-level dependencies under :data:`IMPORT_LOCK` before running the page (the page's own
``import`` statements then find finished modules), and the warm-up imports under the same lock.
"""

from __future__ import annotations

import ast
import functools
import importlib
import threading
from collections.abc import Iterable
from pathlib import Path

IMPORT_LOCK = threading.RLock()


@functools.cache
def script_imports(script: str) -> tuple[str, ...]:
    """The modules a script imports at its top level, in order; for ``from a import b`` both ``a`` and, when
    ``b`` is a submodule, ``a.b`` (read once per process: the app does not reload its code)."""
    names: list[str] = []
    for node in ast.parse(Path(script).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module != "__future__":
            names += [node.module, *(f"{node.module}:{alias.name}" for alias in node.names)]
    return tuple(dict.fromkeys(names))


def _import(name: str) -> None:
    """Import ``module`` or, for ``module:attribute``, the module and then the attribute, which may be a
    submodule or a lazily resolved name (PEP 562)."""
    module_name, _, attribute = name.partition(":")
    module = importlib.import_module(module_name)
    if attribute and not hasattr(module, attribute):
        importlib.import_module(f"{module_name}.{attribute}")


def import_modules(names: Iterable[str]) -> dict[str, str]:
    """Import ``names`` (see :func:`script_imports`) under :data:`IMPORT_LOCK`; returns the failures as
    ``{name: error}``. A failure is not raised: the code that needs the module reports it where it can say
    what it means."""
    failures = {}
    with IMPORT_LOCK:
        for name in names:
            try:
                _import(name)
            except Exception as error:
                failures[name] = f"{type(error).__name__}: {error}"
    return failures


def import_script_dependencies(script: str | Path) -> dict[str, str]:
    """Import what ``script`` imports at its top level, under :data:`IMPORT_LOCK`; returns the failures."""
    return import_modules(script_imports(str(script)))
