"""``MODEL_CARD.md`` of an exported encoder, in the sections Hugging Face model cards use: what it is, how it
was trained (dataset and its attributions from ``data/NOTICE``, recipe, epochs, seed), evaluation (the
probe table, with baselines beside the encoder), intended use and limits, licence, and how to load it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from core.data.paths import PROJECT_ROOT
from core.location.export.graphs import FORMATS, INPUT_NAME
from core.location.export.source import ExportSource
from core.location.model_folder import WEIGHTS_FILE

NOTICE = PROJECT_ROOT / "data" / "NOTICE"


def model_card(source: ExportSource, formats: tuple[str, ...], probes: str) -> str:
    """The card's Markdown; ``probes`` is the evaluation section's body (a probe table or why there is none)."""
    encoder = source.encoder
    config = encoder.config
    layer = "the positional encoding's features and the network's output side by side" if config.embedding == "concat" else "the network's output"
    sections = [
        f"# GeoCSP location encoder: {_title(source)}",
        "## What it is\n\n"
        f"A location encoder: (lon, lat) in degrees → a {encoder.embedding_dim}-d float32 embedding ({layer}; "
        "not L2-normalised). "
        f"Encoding `{config.encoding}` {json.dumps(config.encoding_params)}, network `{config.network}` "
        f"{json.dumps(config.network_params)}, encoding computed in {config.precision}. "
        "Every file here returns that same embedding: the layer `LocationEncoder.embed` returns, the one GeoCSP's app and probes use.",
        f"## How it was trained\n\n{_training(source)}",
        f"## Evaluation\n\n{probes}",
        "## Intended use and limits\n\n"
        "Features of places for downstream models (regression or classification over locations, priors, "
        "retrieval). Inputs are (lon, lat) degrees in that order, as float32 `[N, 2]`; longitudes are wrapped into "
        "[-180, 180); a row with NaN, an infinite value or |lat| > 90 is refused by the library (CoordinateError) and "
        "comes out as a row of NaN from the ONNX and TorchScript files. The embedding knows only what its training "
        "data showed: places far from the training locations get embeddings that were never checked, and a "
        "pre-trained encoder carries the geographic biases of its image collection.",
        f"## Licence\n\n{_licence(source)}",
        f"## How to load it\n\n{load_snippets(formats)}",
    ]
    return "\n\n".join(sections) + "\n"


def _title(source: ExportSource) -> str:
    if source.kind == "run" and source.run_dir is not None:
        return f"run {source.run_dir.name}"
    return {"geoclip": "GeoCLIP (released weights)", "encoding": f"bare {source.name.removeprefix('encoding:')}"}.get(source.kind, source.name)


def _training(source: ExportSource) -> str:
    if source.kind == "geoclip":
        return (
            "Not trained by GeoCSP: GeoCLIP's released location encoder (Vivanco Cepeda, Nayak & Shah, "
            "\"GeoCLIP: Clip-Inspired Alignment between Locations and Images for Effective Worldwide Geo-localization\", "
            "NeurIPS 2023), trained by its authors contrastively against CLIP image features of the MP-16 Flickr "
            "photo collection, read from the `geoclip==1.3.0` wheel."
        )
    if source.kind == "encoding":
        return "Not trained: a bare positional encoding with no weights to learn (identity network)."
    if source.kind == "model_folder":
        return f"Re-exported from the model folder `{source.name}`, whose origin was {json.dumps(source.record())}; see that folder's card."
    assert source.run_dir is not None
    config = yaml.safe_load((source.run_dir / "config.yaml").read_text()) or {}
    metrics = _read_json(source.run_dir / "metrics.json")
    data = config.get("data", {})
    recipe = ", ".join(f"{key} {value}" for key, value in (config.get(config.get("stage", ""), {}) or {}).items())
    lines = [
        f"- run: `{source.run_dir.name}`, stage **{config.get('stage')}**, status {metrics.get('status', '?')}",
        f"- dataset: `{data.get('dataset')}` {json.dumps(data.get('dataset_options') or {})}, image features "
        f"`{data.get('image_encoder')}`, view `{data.get('view')}`",
        f"- recipe: {recipe}; optimiser {json.dumps(config.get('optim', {}))}",
        f"- epochs: {config.get('epochs')} (best epoch {metrics.get('best_epoch', '?')}), batch size {config.get('batch_size')}, "
        f"seed {config.get('seed')}, data hash {metrics.get('data_hash', '?')}, wall time {metrics.get('wall_seconds', '?')} s",
    ]
    lines += [f"- {key}: {value:.4f}" for key, value in metrics.items() if key.startswith("test_") and isinstance(value, float)]
    return "\n".join(lines) + "\n\n" + _attribution(str(data.get("dataset")))


def _attribution(dataset: str) -> str:
    """The sources of the training data: ``data/NOTICE`` for the embedded dataset, the user's own otherwise."""
    if dataset != "default":
        return f"Trained on the user's dataset `{dataset}`: its sources and licence are the dataset's own."
    notice = NOTICE.read_text().strip() if NOTICE.is_file() else "(data/NOTICE is missing from this checkout)"
    return "Trained on GeoCSP's embedded dataset, built from these sources (data/NOTICE):\n\n" + "\n".join(f"> {line}" for line in notice.splitlines())


def _licence(source: ExportSource) -> str:
    if source.kind == "geoclip":
        return "The weights are GeoCLIP's, released under the MIT licence by their authors (`geoclip` 1.3.0 on PyPI); that licence applies to them."
    if source.kind == "encoding":
        return "A bare encoding has no learnt weights; the exported files are formulas with constants."
    return (
        "Weights trained by GeoCSP's user, who decides their licence. The training data's terms (above) ask for "
        "attribution of Köppen–Geiger (CC BY 4.0) and GeoNames (CC BY 4.0) where the embedded dataset was used."
    )


def load_snippets(formats: tuple[str, ...]) -> str:
    """How to load the folder with GeoCSP, TorchScript (torch only) and ONNX Runtime (no torch): runnable code."""
    blocks = [
        "With GeoCSP installed (checks every checksum in config.json):\n\n```python\n"
        "import torch\nfrom core.location import load_encoder\n"
        "encoder = load_encoder(\"path/to/folder\")\n"
        "embedding = encoder.embed(torch.tensor([[2.35, 48.86]]))  # (lon, lat) degrees -> [1, D]\n```",
    ]
    if "torchscript" in formats:
        blocks.append(
            "With torch only:\n\n```python\nimport torch\n"
            f"encoder = torch.jit.load(\"path/to/folder/{FORMATS['torchscript']}\")\n"
            "embedding = encoder(torch.tensor([[2.35, 48.86]], dtype=torch.float32))\n```"
        )
    if "onnx" in formats:
        blocks.append(
            "With ONNX Runtime only:\n\n```python\nimport numpy as np, onnxruntime\n"
            f"session = onnxruntime.InferenceSession(\"path/to/folder/{FORMATS['onnx']}\")\n"
            f"embedding = session.run(None, {{\"{INPUT_NAME}\": np.array([[2.35, 48.86]], dtype=np.float32)}})[0]\n```"
        )
    blocks.append(f"`{WEIGHTS_FILE}` holds the weights alone (safetensors), for any framework.")
    return "\n\n".join(blocks)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
