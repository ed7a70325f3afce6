"""The model card's evaluation: the run's own probe table (:class:`core.probes.report.ProbeReport` as
``probes.md``), with the baselines the table holds beside the encoder.

Export does not run the probes itself: the five embedded tasks cost minutes on a small machine (building the
tasks, then spatially blocked cross-validation of every embedding), far more than an export. A run that was
probed into its own folder (``python -m core probe ... --out RUN``) has its table copied into the card.
"""

from __future__ import annotations

from core.location.export.source import ExportSource
from core.probes.embeddings import BASELINE_EMBEDDINGS

PROBES_FILE = "probes.md"
"""The probe table :meth:`core.probes.report.ProbeReport.write` puts in a folder."""


def probe_command(source: ExportSource) -> str:
    """The ``probe`` command that measures ``source`` beside its baselines and writes the table where export finds it."""
    if source.kind == "run" and source.run_dir is not None:
        run = source.run_dir
        embeddings = [f"run:{run}", f"untrained:run:{run}", "lonlat", "xyz"]
        out = f" --out {run}"
    else:
        embeddings = [source.name, *BASELINE_EMBEDDINGS[:2]]
        out = ""
    return "python -m core probe " + " ".join(f"--embedding {name}" for name in embeddings) + out


def probe_section(source: ExportSource) -> str:
    """The evaluation section's body: the run's ``probes.md`` when it has one, else how to make it."""
    if source.run_dir is not None and (source.run_dir / PROBES_FILE).is_file():
        table = (source.run_dir / PROBES_FILE).read_text().strip()
        return (
            f"The run's own probe table ({source.run_dir.name}/{PROBES_FILE}; `run:` rows are this encoder, the others its "
            f"baselines: raw coordinates, unit vectors and the same recipe untrained):\n\n{table}"
        )
    where = "this run has no probe table in its folder" if source.kind == "run" else "export does not probe encoders"
    return (
        f"Not measured here: {where}, and probing at export would take about 90 s on 2 cores (five embedded tasks, spatially blocked "
        f"cross-validation). Measure it beside its baselines with\n\n```\n{probe_command(source)}\n```\n\n"
        + ("and export again: the table is then copied here." if source.kind == "run" else "")
    ).strip()
