"""Whether exported graphs give the library's embeddings: :func:`check_portable` runs
:mod:`~core.location.export.portable_check` in a fresh, isolated interpreter (``python -I``, working folder
outside the project) per runtime, for many model folders at once."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from core.location.encoder import LocationEncoder
from core.location.export.graphs import FORMATS

SCRIPT = Path(__file__).with_name("portable_check.py")
EDGE_POINTS = np.array(
    [[0.0, 90.0], [0.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [180.0, 90.0], [-180.0, -90.0], [179.999, 45.0], [-179.999, -45.0]],
    dtype=np.float32,
)
"""Both poles and the antimeridian from both sides; the first row is also run as a batch of 1."""


def equivalence_points(count: int, seed: int = 0) -> np.ndarray:
    """``count`` float32 (lon, lat) rows: :data:`EDGE_POINTS` first, then uniform on the sphere."""
    rng = np.random.default_rng(seed)
    rest = count - len(EDGE_POINTS)
    random = np.stack([rng.uniform(-180.0, 180.0, rest), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rest)))], axis=1)
    return np.concatenate([EDGE_POINTS, random]).astype(np.float32)


@torch.no_grad()
def library_embeddings(encoder: LocationEncoder, points: np.ndarray, batch_size: int = 16384) -> np.ndarray:
    """``encoder.embed`` of ``points`` in batches, float32 ``[N, D]`` (what the graphs must reproduce)."""
    tensor = torch.from_numpy(points)
    return torch.cat([encoder.embed(batch) for batch in tensor.split(batch_size)]).numpy()


def check_portable(cases: Mapping[str, tuple[LocationEncoder, Path, np.ndarray]], runtime: str, work_dir: Path, timeout: float = 600) -> dict:
    """Run each case's graph (``{name: (library encoder, model folder, points)}``) in ``runtime`` (``onnx`` or
    ``torchscript``) in one isolated interpreter whose working folder is ``work_dir``; its JSON report (see
    :mod:`~core.location.export.portable_check`). Raises RuntimeError with the interpreter's error output."""
    work_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for name, (encoder, folder, points) in cases.items():
        points_path, reference_path = work_dir / f"{name}-points.npy", work_dir / f"{name}-reference.npy"
        np.save(points_path, points)
        np.save(reference_path, library_embeddings(encoder, points))
        manifest.append({"name": name, "graph": str(folder / FORMATS[runtime]), "points": str(points_path), "reference": str(reference_path)})
    manifest_path = work_dir / f"manifest-{runtime}.json"
    manifest_path.write_text(json.dumps(manifest))
    done = subprocess.run(
        # -S: no .pth files, so an editable install of this checkout (setup makes one) does not make GeoCSP
        # importable; the installed packages' folders are passed as plain path entries instead.
        [sys.executable, "-I", "-S", str(SCRIPT), runtime, str(manifest_path), *site.getsitepackages()],
        cwd=work_dir, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} check failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
