"""Where data lives, and keeping user-supplied paths inside the configured data root."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from core.data.errors import DatasetError


def _project_root() -> Path:
    """The source checkout holding this package, or the working directory when it is installed (site-packages)."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


#: Where ``data/``, ``runs/`` and the app's assets live by default.
PROJECT_ROOT = _project_root()
#: The longest path (PATH_MAX, with its terminating NUL) and file name (NAME_MAX) Linux accepts, in bytes.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


class OutsideRootError(DatasetError):
    """A path that resolves outside the folder it must stay in (``..``, absolute, a symlink leading out)."""


def data_root() -> Path:
    """The folder users' datasets must live under (``GEOCSP_DATA_ROOT``, default ``<project>/data``)."""
    return Path(os.environ.get("GEOCSP_DATA_ROOT", PROJECT_ROOT / "data")).resolve()


def cache_root() -> Path:
    """The git-ignored folder for built and cached data (``GEOCSP_CACHE``, default ``data/cache``)."""
    return Path(os.environ.get("GEOCSP_CACHE", PROJECT_ROOT / "data" / "cache")).resolve()


def _shortened(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def path_problem(path: str | os.PathLike[str], *, typed: bool = False) -> str | None:
    """Why ``path`` can name no file, in words for the user, or None.

    Refused: a NUL byte, a path over :data:`MAX_PATH_BYTES` or a name over :data:`MAX_NAME_BYTES` (UTF-8);
    with ``typed`` (a path the user typed, not one found on disk) also control characters.
    """
    text = os.fspath(path)
    if "\0" in text:
        return f"the path contains a NUL byte (character {text.index(chr(0)) + 1}), which no file name can hold"
    if typed and (control := next((c for c in text if unicodedata.category(c) == "Cc"), None)):
        return (
            f"the path contains the control character U+{ord(control):04X} (character {text.index(control) + 1}); "
            "type the folder or file name without it"
        )
    if (size := len(os.fsencode(text))) >= MAX_PATH_BYTES:
        return f"the path is {size:,} bytes long; a path can have at most {MAX_PATH_BYTES - 1:,}"
    if long_name := next((name for name in Path(text).parts if len(os.fsencode(name)) > MAX_NAME_BYTES), None):
        return (
            f"the name {_shortened(long_name)} is {len(os.fsencode(long_name)):,} bytes long; "
            f"a file or folder name can have at most {MAX_NAME_BYTES}"
        )
    return None


def resolve_inside(root: Path, relative: str | os.PathLike[str]) -> Path:
    """Resolve ``relative`` against ``root``.

    Raises :class:`OutsideRootError` for anything that escapes ``root`` (``..``, absolute, symlinks) and
    :class:`DatasetError` for a path no file can have (see :func:`path_problem`) or one that cannot be
    resolved (a symlink loop).
    """
    root = Path(root).resolve()
    if problem := path_problem(relative) or path_problem(root / relative):
        raise DatasetError(root, problem)
    try:
        candidate = (root / relative).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise DatasetError(root, f"the path {_shortened(os.fspath(relative))} cannot be resolved ({exc})") from exc
    if candidate != root and root not in candidate.parents:
        raise OutsideRootError(root / relative, f"path escapes the dataset root {root}")
    return candidate
