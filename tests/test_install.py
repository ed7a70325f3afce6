"""``pip install .`` into an empty venv gives a working ``geocsp`` command (issue 13).

The steps (copy of the checkout's non-ignored files, wheel, empty venv with the pinned versions, no
byte-compilation) are :mod:`benchmarks.install_check`'s, which also times them.
"""

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.install_check import (
    build_wheel,
    checkout_files,
    copy_checkout,
    install_into_empty_venv,
    package_modules,
    probe_installed,
    run_outside,
    subcommands,
)
from core.__main__ import build_parser


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
    wheel = build_wheel(copy_checkout(files, scratch / "source"), scratch / "dist")
    packaged = {name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}
    assert packaged == package_modules(files), "the wheel holds exactly the modules of core/, geovis/ and geocsp/"

    python = install_into_empty_venv(wheel, scratch / "venv")
    usage = run_outside([scratch / "venv" / "bin" / "geocsp", "--help"], cwd=scratch)
    assert usage == build_parser("geocsp").format_help()
    probe = probe_installed(python, subcommands(usage), scratch)
    assert Path(probe["core"]).is_relative_to(scratch / "venv"), "core was imported from the checkout, not from the install"
    assert Path(probe["geocsp"]).is_relative_to(scratch / "venv"), "geocsp was imported from the checkout, not from the install"
    assert probe["xyz_dim"] == 3, "geocsp.load_encoder resolves in the installed package"
    assert probe["data_root"] == str((scratch / "data").resolve()), "an installed package keeps data under the working directory"
    for command, text in probe["helps"].items():
        assert text.startswith(f"usage: geocsp {command}"), text
