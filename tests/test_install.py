"""``pip install .`` into an empty venv gives a working ``geocsp`` command (issue 13).

The wheel is built from a copy of the checkout's non-ignored files (what a fresh clone has; no stale
``build/`` and nothing written into the checkout) and installed with the exact pins of requirements.txt as
constraints, from pip's configured sources (the torch CPU wheel comes from pip's find-links, as in setup).
Byte-compilation is skipped: it is most of pip's time for torch and tells nothing about the package.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core/", "geovis/")
INSTALL_TIMEOUT_S = 600
#: Run by the installed interpreter: where it imports core from, its default data root, each subcommand's help.
PROBE = """
import contextlib, io, json, sys
import core
from core.__main__ import main
from core.data.paths import data_root

helps = {}
for command in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([command, "--help"], prog="geocsp")
    helps[command] = out.getvalue()
print(json.dumps({"core": core.__file__, "data_root": str(data_root()), "helps": helps}))
"""


def checkout_files() -> list[str]:
    """The checkout's tracked and untracked, not ignored, files (relative paths), as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def run(command: list, cwd: Path, timeout: float = INSTALL_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run ``command`` outside this test environment (no PYTHONPATH, venv or GEOCSP_* settings); fail with its output."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"} and not k.startswith("GEOCSP_")}
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture
def scratch(tmp_path_factory) -> Iterator[Path]:
    """A folder removed afterwards (the venv is over a gigabyte; pytest would keep it)."""
    folder = tmp_path_factory.mktemp("install")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.packaging
def test_pip_install_into_an_empty_venv_gives_a_working_geocsp_command(scratch, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # one help layout here and in the installed command
    files = checkout_files()
    source = scratch / "source"
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", scratch / "dist", source], cwd=scratch)
    (wheel,) = (scratch / "dist").glob("geocsp-*.whl")

    packaged = {name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}
    assert packaged == {name for name in files if name.startswith(PACKAGES) and name.endswith(".py")}

    venv = scratch / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=scratch)
    python, pip_install = venv / "bin" / "python", ["-m", "pip", "install", "--quiet", "--no-compile"]
    run([python, *pip_install, "--constraint", ROOT / "requirements.txt", wheel], cwd=scratch)

    usage = run([venv / "bin" / "geocsp", "--help"], cwd=scratch).stdout
    assert usage == build_parser("geocsp").format_help()
    commands = re.search(r"\{(.+?)\}", usage).group(1).split(",")
    probe = json.loads(run([python, "-c", PROBE, *commands], cwd=scratch).stdout)
    assert Path(probe["core"]).is_relative_to(venv), "core was imported from the checkout, not from the install"
    assert probe["data_root"] == str((scratch / "data").resolve()), "an installed package keeps data under the working directory"
    for command, text in probe["helps"].items():
        assert text.startswith(f"usage: geocsp {command}"), text
