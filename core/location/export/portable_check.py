"""Run exported graphs where GeoCSP cannot be imported, and compare them with the library's embeddings.

A standalone script (it imports nothing from GeoCSP, and with ``onnx`` it refuses to import torch)::

    python -I -S portable_check.py torchscript|onnx MANIFEST.json [SITE_PACKAGES ...]

``MANIFEST.json`` lists cases ``{"name", "graph", "points", "reference"}``: a graph file, ``.npy`` points
``[N, 2]`` float32 and the library's embeddings of them ``[N, D]`` (the batch is run whole, then its first row
alone as a batch of 1). Prints one JSON object: per case the max abs differences, the output shape, the
seconds the whole batch took, and which of torch / GeoCSP could be imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import sys
import time


class _Blocker(importlib.abc.MetaPathFinder):
    """Makes ``torch`` unimportable, so an ONNX run proves it needs no torch."""

    def find_spec(self, name, path=None, target=None):  # noqa: D102 — importlib's protocol
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"{name} is blocked: this check runs without torch")
        return None


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _runner(runtime: str, graph: str):
    """A function points → embeddings for ``graph`` in ``runtime``."""
    if runtime == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda points: session.run(None, {name: points})[0]
    import torch

    module = torch.jit.load(graph)

    def run(points):
        with torch.no_grad():
            return module(torch.from_numpy(points)).numpy()

    return run


def main(runtime: str, manifest: str) -> dict:
    """Check every case of ``manifest`` in ``runtime`` (``onnx`` or ``torchscript``); the report as a dict."""
    if runtime == "onnx":
        sys.meta_path.insert(0, _Blocker())
    import numpy as np

    report = {"torch_importable": _importable("torch"), "geocsp_importable": _importable("core"), "cases": {}}
    with open(manifest) as handle:
        cases = json.load(handle)
    for case in cases:
        points = np.load(case["points"])
        reference = np.load(case["reference"], mmap_mode="r")
        run = _runner(runtime, case["graph"])
        start = time.perf_counter()
        embedding = run(points)
        seconds = time.perf_counter() - start
        one = run(points[:1])
        report["cases"][case["name"]] = {
            "shape": list(embedding.shape),
            "max_abs_diff": float(np.max(np.abs(embedding - reference))) if embedding.shape == reference.shape else None,
            "one_row_max_abs_diff": float(np.max(np.abs(one - reference[:1]))),
            "finite": bool(np.isfinite(embedding).all()),
            "seconds": seconds,
        }
    return report


if __name__ == "__main__":
    sys.path.extend(sys.argv[3:])  # the installed packages, without their .pth hooks (an editable GeoCSP among them)
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
