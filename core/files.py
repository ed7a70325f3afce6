"""File helpers: atomic writes (a reader sees the old file or the new one, never a half-written one) and
content digests."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write; renamed onto ``path`` when the block
    ends without an error, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def atomic_write_json(path: Path, value: Any, sort_keys: bool = True) -> None:
    """Write ``value`` as indented JSON (key-sorted unless ``sort_keys`` is false) to ``path`` atomically."""
    atomic_write_bytes(path, json.dumps(value, indent=2, sort_keys=sort_keys).encode())


def file_sha256(path: Path, block: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's content, read in ``block``-byte chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()
