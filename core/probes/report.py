"""The probe table: every embedding's cross-validated scores on every task, as a DataFrame, Markdown and CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.files import atomic_write_bytes
from core.probes.cv import METRICS, ProbeResult
from core.probes.tasks import ProbeTask


@dataclass
class ProbeReport:
    """Results of :func:`core.probes.run_probes`: the tasks, the block resolution used for each, and one
    :class:`ProbeResult` per (task, embedding) plus the k-NN reference per task."""

    tasks: dict[str, ProbeTask]
    block_resolution: dict[str, int]
    n_folds: int
    results: list[ProbeResult] = field(default_factory=list)

    def result(self, task: str, embedding: str) -> ProbeResult:
        """The result of ``embedding`` (its label, or "knn (xyz)") on ``task``; KeyError if absent."""
        for result in self.results:
            if result.task == task and result.embedding == embedding:
                return result
        raise KeyError(f"no result for {embedding!r} on {task!r}")

    def long_table(self) -> pd.DataFrame:
        """One row per (task, embedding, metric): mean and std over folds, the fold values, dims and seconds."""
        rows = []
        for result in self.results:
            for metric in METRICS[result.kind]:
                values = result.scores[metric]
                rows.append({
                    "task": result.task, "kind": result.kind, "embedding": result.embedding, "method": result.method,
                    "dim": result.dim, "metric": metric, "mean": values.mean(), "std": values.std(),
                    "folds": ";".join(f"{value:.4f}" for value in values), "points": len(self.tasks[result.task]),
                    "block_resolution": self.block_resolution[result.task], "seconds": round(result.seconds, 2),
                })
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """Headline metric (R² or accuracy) as "mean ± std", one row per embedding, one column per task."""
        cells = {
            (result.embedding, result.task): f"{result.mean():.3f} ± {result.std():.3f}" for result in self.results
        }
        embeddings = list(dict.fromkeys(result.embedding for result in self.results))
        return pd.DataFrame(
            [[cells.get((embedding, task), "–") for task in self.tasks] for embedding in embeddings],
            index=pd.Index(embeddings, name="embedding"), columns=list(self.tasks),
        )

    def to_markdown(self) -> str:
        """A caption and :meth:`table` as a Markdown table."""
        table = self.table()
        headers = [f"{name} ({'R²' if task.kind == 'regression' else 'acc.'})" for name, task in self.tasks.items()]
        blocks = ", ".join(f"{name} {len(task)} pts / H3 res {self.block_resolution[name]}" for name, task in self.tasks.items())
        lines = [
            f"Linear probes, {self.n_folds}-fold spatially blocked CV (mean ± std over folds; {blocks}).",
            "",
            "| embedding | " + " | ".join(headers) + " |",
            "| --- | " + " | ".join("---:" for _ in headers) + " |",
        ]
        lines += [f"| {embedding} | " + " | ".join(row) + " |" for embedding, row in zip(table.index, table.values.tolist())]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path | str) -> tuple[Path, Path]:
        """``probes.md`` (the table) and ``probes.csv`` (:meth:`long_table`) in ``directory``; returns their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        markdown, csv = directory / "probes.md", directory / "probes.csv"
        atomic_write_bytes(markdown, self.to_markdown().encode())
        atomic_write_bytes(csv, self.long_table().to_csv(index=False, float_format="%.4f").encode())
        return markdown, csv
