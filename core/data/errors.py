"""The one error type dataset code raises: it names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset (or one of its files) cannot be used; ``path`` and ``problem`` say where and why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
