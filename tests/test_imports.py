"""Imports are safe from many threads: the app's sessions and its warm-up import the library concurrently.

Python's per-module import locks make concurrent imports safe only along an acyclic import graph; where a
library has a cycle (pandas does), two threads entering it from different ends see a partially initialised
module (issue 14, item 7). The app imports through one lock (geovis.imports), and the project's own modules
import one another without a cycle, at top level or inside functions.
"""

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from geovis import app_state, imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "geovis", "geocsp")


def module_files() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports, at top level or inside functions, plus its parent packages
    (importing ``a.b.c`` first initialises ``a`` and ``a.b``)."""

    def project_module(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        parts = name.split(".")
        graph[name].update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name].update(t for t in map(project_module, targets) if t and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a list of modules (first == last), or [] when it is acyclic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return path[path.index(successor):] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_library_has_no_import_cycle():
    cycle = find_cycle(import_graph(module_files()))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


HAMMER = """
import sys, threading
from geovis import imports  # light: nothing the pages need is imported before the threads start
errors = []
def load(name):
    barrier.wait()
    errors.extend(f"{name}: {error}" for name, error in imports.import_modules([name]).items())
barrier = threading.Barrier(len(sys.argv) - 1)
threads = [threading.Thread(target=load, args=(name,)) for name in sys.argv[1:]]
for thread in threads: thread.start()
for thread in threads: thread.join()
print("\\n".join(errors))
sys.exit(1 if errors else 0)
"""


def test_every_page_and_the_warm_up_import_at_once_in_fresh_interpreters():
    """One thread per module that a page or the warm-up imports, all released at once in a fresh interpreter
    (the harshest interleaving of sessions starting on a fresh server); each goes through the app's import lock."""
    pages = sorted((ROOT / "app_pages").glob("*.py"))
    names = list(dict.fromkeys([*app_state.WARM_UP_MODULES, *(n for page in pages for n in imports.script_imports(str(page)))]))
    for rotation in range(3):
        order = names[rotation:] + names[:rotation]
        result = subprocess.run([sys.executable, "-c", HAMMER, *order], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]


def test_script_imports_lists_a_scripts_top_level_modules(tmp_path):
    script = tmp_path / "page.py"
    script.write_text("from __future__ import annotations\nimport os, json\nfrom core.location import ENCODINGS\n"
                      "def f():\n    import csv\n")
    assert imports.script_imports(str(script)) == ("os", "json", "core.location", "core.location:ENCODINGS")
