"""pyproject.toml's compatible ranges and the exact pins of requirements*.txt describe the same packages.

The requirements files are the single source of the tested versions (setup and CI install them); pyproject.toml
declares, for each pin ``X==a.b.c``, the range ``X>=a.b.c,<(a+1)`` (``<0.(b+1)`` for 0.x), except torch, which
stays exact everywhere (a range lets pip pick a CUDA build). Bumping a pin without its range fails here with
the line to write.
"""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
EXACT_EVERYWHERE = {"torch"}
#: requirements file -> the pyproject groups ("" = the runtime dependencies) that declare its packages.
GROUPS = {"requirements.txt": ("", "app"), "requirements-dev.txt": ("dev",)}


def pins(file_name: str) -> dict[str, Requirement]:
    """The requirements of a requirements file, by canonical name."""
    lines = (line.split("#")[0].strip() for line in (ROOT / file_name).read_text().splitlines())
    return {canonicalize_name(req.name): req for req in map(Requirement, filter(None, lines))}


def declared(groups: tuple[str, ...]) -> dict[str, Requirement]:
    """pyproject.toml's requirements in ``groups``, by canonical name, without references to the project itself."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = [text for group in groups for text in (project["optional-dependencies"][group] if group else project["dependencies"])]
    requirements = [Requirement(text) for text in texts]
    return {canonicalize_name(req.name): req for req in requirements if canonicalize_name(req.name) != project["name"]}


def compatible_range(name: str, version: Version) -> str:
    """The specifier pyproject.toml declares for a package pinned at ``version``."""
    if name in EXACT_EVERYWHERE:
        return f"=={version}"
    upper = f"{version.major + 1}" if version.major else f"0.{version.minor + 1}"
    return f">={version},<{upper}"


def test_compatible_range_follows_the_next_major_or_the_next_0x_minor():
    assert compatible_range("numpy", Version("2.4.6")) == ">=2.4.6,<3"
    assert compatible_range("safetensors", Version("0.8.0")) == ">=0.8.0,<0.9"
    assert compatible_range("torch", Version("2.13.0")) == "==2.13.0"


@pytest.mark.parametrize("file_name", GROUPS)
def test_every_pin_is_exact_and_declared_with_its_compatible_range(file_name):
    pinned, ranges = pins(file_name), declared(GROUPS[file_name])
    assert sorted(pinned) == sorted(ranges), f"{file_name} and pyproject.toml {GROUPS[file_name]} list different packages"
    for name, pin in pinned.items():
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{file_name}: {pin} is not an exact pin"
        expected = compatible_range(name, Version(spec.version))
        assert ranges[name].specifier == SpecifierSet(expected), (
            f"pyproject.toml declares {ranges[name]}; for the pin {pin} it should declare {pin.name}{expected}"
        )


def test_torch_is_exactly_2_13_0_wherever_it_appears():
    assert str(pins("requirements.txt")["torch"].specifier) == "==2.13.0"
    assert str(declared(("",))["torch"].specifier) == "==2.13.0"


def test_no_deps_data_packages_are_not_declared_as_dependencies():
    """Their declared dependencies are not wanted, so pip must never resolve them: they stay a --no-deps step."""
    every_group = tuple(group for groups in GROUPS.values() for group in groups)
    assert not set(pins("requirements-nodeps.txt")) & set(declared(every_group))
