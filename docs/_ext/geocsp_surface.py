"""Griffe extension of the docs build: the API reference shows the public ``geocsp`` surface, and a missing
docstring on it fails ``mkdocs build --strict``.

``geocsp`` resolves its names lazily from a map (``_EXPORTS``: name → ``core`` module), which static analysis
cannot follow; this extension reads that map and gives the ``geocsp`` module one alias member per name whose
module exists, so ``::: geocsp`` renders exactly the names ``import geocsp`` offers. Each of those objects, and
each public member of a class among them, must have a docstring: a missing one is logged as a warning, which
``--strict`` turns into a failed build; Sphinx roles (``:class:`X```) show as code, ``>>>`` examples as code blocks. A name whose module
does not exist yet is left out with an info line (tests/test_docs.py checks that every name imports).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

PACKAGE = "geocsp"
logger = griffe.get_logger("geocsp_surface")
#: Sphinx roles in docstrings (``:class:`X```, ``:func:`~a.b```): Markdown shows them as plain code.
SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`~?([^`]+)`")
#: A doctest-style example (``>>>`` lines up to a blank line): Markdown would read it as nested quotes.
EXAMPLE = re.compile(r"^>>> .*(?:\n(?!\s*$).*)*", re.M)


class GeocspSurface(griffe.Extension):
    """Adds ``geocsp``'s lazily exported names as members and warns about every missing docstring among them."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """When ``geocsp`` is loaded: alias each exported name to its ``core`` object and check its docstrings."""
        if pkg.path != PACKAGE:
            return
        if pkg.docstring:
            pkg.docstring.value = markdown_docstring(pkg.docstring.value)
        exports: dict[str, str] = ast.literal_eval(str(pkg["_EXPORTS"].value))
        for name, module in sorted(exports.items()):
            try:
                target = loader.modules_collection.get_member(f"{module}.{name}")
            except KeyError:
                logger.info(f"{PACKAGE}.{name}: {module}.{name} not found; left out of the API reference")
                continue
            pkg.set_member(name, griffe.Alias(name, target, parent=pkg))
            for obj in documented_objects(target):
                if not obj.docstring:
                    logger.warning(f"{obj.path} has no docstring, and it is public as part of {PACKAGE}.{name}")
                else:
                    obj.docstring.value = markdown_docstring(obj.docstring.value)


def documented_objects(obj: griffe.Object | griffe.Alias) -> list[griffe.Object | griffe.Alias]:
    """``obj`` and, for a class, its own public members (not inherited, no ``_`` prefix): what the reference renders."""
    if not obj.is_class:
        return [obj]
    return [obj, *(member for name, member in obj.members.items() if not name.startswith("_"))]


def markdown_docstring(text: str) -> str:
    """A docstring as Markdown: Sphinx roles as code, ``>>>`` examples as Python console blocks."""
    return EXAMPLE.sub(lambda match: f"```pycon\n{match[0]}\n```", SPHINX_ROLE.sub(r"`\1`", text))
