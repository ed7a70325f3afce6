"""Imports are safe from many threads: the app's sessions and its warm-up import the library concurrently.

Python's per-module import locks make concurrent imports safe only along an acyclic import graph; where a
library has a cycle (pandas does), two threads entering it from different ends see a partially initialised
module (issue 14, item 7). The app imports through one lock (geovis.imports).
"""

import subprocess
import sys
from pathlib import Path

from geovis import app_state, imports

ROOT = Path(__file__).resolve().parents[1]


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
