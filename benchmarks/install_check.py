"""``pip install .`` into an empty venv, step by step, as tests/test_install.py runs it (issue 13).

The wheel is built from a copy of the checkout's non-ignored files (what a fresh clone has: no stale
``build/``, nothing written into the checkout) and installed with requirements.txt's exact pins as
constraints, from pip's configured sources (the torch CPU wheel comes from pip's find-links, as in setup),
without byte-compilation. Prints each step's seconds and, as the baseline in the same run, the same install
with pip's default byte-compilation.

    python -m benchmarks.install_check
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.data.paths import PROJECT_ROOT

PACKAGES = ("core/", "geovis/", "geocsp/")
STEP_TIMEOUT_S = 600
#: Run by the installed interpreter: where it imports core and geocsp from, the size of a bare xyz encoding loaded
#: through geocsp (the public surface resolves), its default data root, each subcommand's help.
PROBE = """
import contextlib, io, json, sys
import core
import geocsp
from core.__main__ import main
from core.data.paths import data_root

helps = {}
for command in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([command, "--help"], prog="geocsp")
    helps[command] = out.getvalue()
xyz_dim = geocsp.load_encoder("encoding:xyz").embedding_dim
print(json.dumps({"core": core.__file__, "geocsp": geocsp.__file__, "xyz_dim": xyz_dim, "data_root": str(data_root()), "helps": helps}))
"""


def checkout_files() -> list[str]:
    """The checkout's tracked and untracked, not ignored, files (relative paths), as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file())


def package_modules(files: list[str]) -> set[str]:
    """The modules a wheel must hold: every ``.py`` file of the packages among ``files``."""
    return {name for name in files if name.startswith(PACKAGES) and name.endswith(".py")}


def run_outside(command: list, cwd: Path) -> str:
    """Run ``command`` outside this environment (no PYTHONPATH, venv or GEOCSP_* settings) and return its stdout.

    Raises RuntimeError with the end of its output when it fails.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"} and not k.startswith("GEOCSP_")}
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def copy_checkout(files: list[str], into: Path) -> Path:
    """Copy ``files`` from the checkout into ``into``; returns ``into``."""
    for name in files:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, into / name)
    return into


def build_wheel(source: Path, into: Path) -> Path:
    """The project's wheel, built from ``source`` by pip (isolated build, no dependencies)."""
    run_outside([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", into, source], cwd=into.parent)
    (wheel,) = into.glob("geocsp-*.whl")
    return wheel


def install_into_empty_venv(wheel: Path, venv: Path, byte_compile: bool = False) -> Path:
    """A new venv at ``venv`` (no system packages) with ``wheel`` installed at the pinned versions; its python."""
    run_outside([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    compile_flag = [] if byte_compile else ["--no-compile"]
    run_outside(
        [python, "-m", "pip", "install", "--quiet", *compile_flag, "--constraint", PROJECT_ROOT / "requirements.txt", wheel],
        cwd=venv.parent,
    )
    return python


def subcommands(usage: str) -> list[str]:
    """The subcommands a ``--help`` text lists in its usage line (``{pretrain,finetune,...}``)."""
    return re.search(r"\{(.+?)\}", usage).group(1).split(",")


def probe_installed(python: Path, commands: list[str], cwd: Path) -> dict:
    """What the installed package reports from ``cwd``: ``core``'s and ``geocsp``'s files, the size of
    ``geocsp.load_encoder("encoding:xyz")``, the default data root and each subcommand's ``--help`` text (one process)."""
    return json.loads(run_outside([python, "-c", PROBE, *commands], cwd=cwd))


def main() -> None:
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        timings: dict[str, float] = {}

        def timed(step: str, action):
            started = time.perf_counter()
            result = action()
            timings[step] = time.perf_counter() - started
            print(f"{step:<48} {timings[step]:6.1f} s", flush=True)
            return result

        files = checkout_files()
        source = timed("copy the checkout", lambda: copy_checkout(files, scratch / "source"))
        wheel = timed("build the wheel", lambda: build_wheel(source, scratch / "dist"))
        python = timed("venv + pip install (--no-compile)", lambda: install_into_empty_venv(wheel, scratch / "venv"))
        usage = timed("geocsp --help", lambda: run_outside([scratch / "venv" / "bin" / "geocsp", "--help"], cwd=scratch))
        timed("every subcommand's --help (one process)", lambda: probe_installed(python, subcommands(usage), scratch))
        print(f"{'install check (the steps above)':<48} {sum(timings.values()):6.1f} s")
        shutil.rmtree(scratch / "venv")
        timed("baseline: venv + pip install (byte-compiled)", lambda: install_into_empty_venv(wheel, scratch / "venv", True))
        ratio = timings["baseline: venv + pip install (byte-compiled)"] / timings["venv + pip install (--no-compile)"]
        print(f"byte-compiled install / --no-compile install: {ratio:.2f}x")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
