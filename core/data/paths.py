"""Where data lives, and keeping user-supplied paths inside the configured data root."""

from __future__ import annotations

import os
from pathlib import Path

from core.data.errors import DatasetError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The folder users' datasets must live under (``GEOCSP_DATA_ROOT``, default ``<project>/data``)."""
    return Path(os.environ.get("GEOCSP_DATA_ROOT", PROJECT_ROOT / "data")).resolve()


def cache_root() -> Path:
    """The git-ignored folder for built and cached data (``GEOCSP_CACHE``, default ``data/cache``)."""
    return Path(os.environ.get("GEOCSP_CACHE", PROJECT_ROOT / "data" / "cache")).resolve()


def resolve_inside(root: Path, relative: str | os.PathLike[str]) -> Path:
    """Resolve ``relative`` against ``root`` and refuse anything that escapes it (``..``, absolute, symlinks)."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise DatasetError(root / relative, f"path escapes the dataset root {root}")
    return candidate
