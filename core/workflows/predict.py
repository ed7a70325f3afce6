"""Predictions from trained runs: P(y|x), P(y|I) and their fusion P(y|I,x), for the app and for scripts.

A :class:`Predictor` is built once from a location-classifier run (stage ``finetune``) and, optionally,
an image-classifier run (stage ``image_classifier``) on the same dataset; it loads both models, the
image run's encoder, the class prior of the training labels and — with an image run — fits the
calibrated fusion on the validation split, so that each later prediction is a forward pass only.
:func:`read_photo` opens an uploaded photo safely and reads its GPS position; :class:`QuickPipeline`
trains a small default pre-train → fine-tune → image-classifier pipeline through the job queue.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from PIL import Image

from core.coords import LonLat, lonlat_tensor
from core.data.exif import GpsError, GpsFix, read_gps
from core.data.images import MAX_IMAGE_BYTES, decode_rgb, probe_image_bytes
from core.evaluate import predict_logits
from core.fusion import CalibratedFusion, fit_calibrated_fusion, product_fusion
from core.image.registry import ImageEncoder, get_image_encoder
from core.train.config import RunConfig
from core.train.data import FeatureData
from core.workflows.jobs import Job, JobManager, one_line
from core.train.records import RunRecord, list_runs
from core.train.runner import load_trained_run

LOCATION_STAGE = "finetune"
IMAGE_STAGE = "image_classifier"
#: The distributions :meth:`Predictor.fuse` returns, and how the app names them.
DISTRIBUTIONS = {
    "image": "P(y | I), from the photo",
    "location": "P(y | x), from the location",
    "product": "P(y | I, x), product rule",
    "calibrated": "P(y | I, x), calibrated fusion",
}
SUCCEEDED = ("completed", "early_stopped")


class PredictorError(ValueError):
    """Runs that cannot be used for prediction; the message says why, for the user."""


@dataclass(frozen=True)
class ClassScore:
    """One class of a predicted distribution."""

    index: int
    name: str
    probability: float


def top_k(probs: torch.Tensor, class_names: Sequence[str], k: int = 5) -> list[ClassScore]:
    """The ``k`` most probable classes of one distribution ``[C]``, most probable first."""
    values, indices = probs.reshape(-1).topk(min(k, probs.numel()))
    return [ClassScore(int(i), class_names[int(i)], float(p)) for p, i in zip(values, indices)]


def usable_runs(stage: str, root: Path | None = None) -> list[RunRecord]:
    """Runs of ``stage`` under ``root`` (default: the runs folder) that saved best weights, newest first."""
    return [r for r in list_runs(root) if r.stage == stage and r.status != "failed" and r.has_checkpoint()]


def _load(run_dir: Path, stage: str, data: FeatureData | None):
    """(config, model, data) of a finished run of ``stage``; any problem becomes a :class:`PredictorError`."""
    run_dir = Path(run_dir)
    try:
        saved = RunConfig.from_yaml((run_dir / "config.yaml").read_text())
        if saved.stage != stage:
            raise PredictorError(f"run {run_dir.name} is a {saved.stage!r} run, not a {stage!r} run")
        return load_trained_run(run_dir, data)
    except PredictorError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise PredictorError(f"run {run_dir.name} cannot be loaded: {one_line(error)}") from error


def _load_encoder(name: str) -> ImageEncoder:
    """The image run's feature extractor, or a :class:`PredictorError` saying why it cannot be loaded."""
    try:
        return get_image_encoder(name).load()
    except (KeyError, RuntimeError, OSError) as error:
        raise PredictorError(f"the image encoder {name!r} cannot be loaded: {one_line(error)}") from error


def _check_same_records(location: FeatureData, image: FeatureData, location_name: str, image_name: str) -> None:
    """Refuse an image run whose classes or records differ from the location run's."""
    if location.class_names != image.class_names:
        raise PredictorError(
            f"the runs predict different classes: {location_name} has {location.n_classes} "
            f"({', '.join(location.class_names[:4])}, …), {image_name} has {image.n_classes} "
            f"({', '.join(image.class_names[:4])}, …); pick two runs trained on the same dataset"
        )
    same = len(location.labels) == len(image.labels) and torch.equal(location.labels, image.labels)
    if not same or not (location.splits == image.splits).all():
        raise PredictorError(
            f"{location_name} and {image_name} were trained on different records or splits; "
            "pick two runs trained on the same dataset"
        )


class Predictor:
    """The models of a location-classifier run and (optionally) an image-classifier run, ready to predict.

    ``data`` / ``image_data`` (in-memory :class:`FeatureData` of the location / image run; ``image_data``
    defaults to ``data``) skip loading; otherwise each run's dataset and features are loaded as its
    config names them. Raises :class:`PredictorError`.
    """

    def __init__(
        self,
        location_run: Path,
        image_run: Path | None = None,
        data: FeatureData | None = None,
        image_data: FeatureData | None = None,
    ) -> None:
        self.location_run = Path(location_run)
        self.image_run = Path(image_run) if image_run is not None else None
        _, self.location_model, location_data = _load(self.location_run, LOCATION_STAGE, data)
        self.class_names: tuple[str, ...] = location_data.class_names
        self.prior = location_data.class_prior(location_data.labelled_indices("train"))
        self.image_model = self.encoder = self.calibration = None
        if self.image_run is not None:
            image_config, self.image_model, image_data = _load(self.image_run, IMAGE_STAGE, image_data or data)
            _check_same_records(location_data, image_data, self.location_run.name, self.image_run.name)
            self.encoder = _load_encoder(image_config.data.image_encoder)
            self.calibration = self._fit_calibration(location_data, image_data)

    def _fit_calibration(self, location_data: FeatureData, image_data: FeatureData) -> CalibratedFusion | None:
        """The calibrated fusion fit on the labelled validation records (None when there are none)."""
        val = location_data.labelled_indices("val")
        if len(val) == 0:
            return None
        return fit_calibrated_fusion(
            predict_logits(self.image_model, image_data.features[val]),
            predict_logits(self.location_model, location_data.lonlat[val]),
            self.prior,
            location_data.labels[val],
        )

    @property
    def has_image(self) -> bool:
        """Whether an image classifier is loaded (P(y|I) and the fusions are available)."""
        return self.image_model is not None

    def location_logits(self, lonlat: ArrayLike | LonLat) -> torch.Tensor:
        """Class scores ``[N, C]`` at (lon, lat) degree rows; :class:`core.coords.CoordinateError` when invalid."""
        return predict_logits(self.location_model, lonlat_tensor(lonlat=lonlat))

    def location_probs(self, lonlat: ArrayLike | LonLat) -> torch.Tensor:
        """P(y | x) ``[N, C]`` at (lon, lat) degree rows."""
        return F.softmax(self.location_logits(lonlat), dim=-1)

    def image_logits(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Class scores ``[N, C]`` of RGB images, through the image run's encoder and classifier."""
        if self.encoder is None:
            raise PredictorError("no image classifier is loaded: pick an image-classifier run")
        return predict_logits(self.image_model, self.encoder.encode(list(images)))

    def image_probs(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """P(y | I) ``[N, C]`` of RGB images."""
        return F.softmax(self.image_logits(images), dim=-1)

    def fuse(self, image_logits: torch.Tensor, location_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every distribution of :data:`DISTRIBUTIONS` (``[N, C]`` each; "calibrated" only when fit)."""
        image, location = F.softmax(image_logits, -1), F.softmax(location_logits, -1)
        fused = {"image": image, "location": location, "product": product_fusion(image, location, self.prior)}
        if self.calibration is not None:
            fused["calibrated"] = self.calibration(image_logits, location_logits, self.prior)
        return fused

    def fused(self, images: Sequence[Image.Image], lonlat: ArrayLike | LonLat) -> dict[str, torch.Tensor]:
        """P(y|I), P(y|x) and the fused P(y|I,x) of photos taken at (lon, lat) rows (one row per image)."""
        return self.fuse(self.image_logits(images), self.location_logits(lonlat))


@dataclass(frozen=True)
class Photo:
    """An uploaded photo: the decoded RGB image, its GPS fix (if any and valid) and why GPS was unusable."""

    image: Image.Image
    gps: GpsFix | None
    gps_problem: str  # "" unless the photo carries GPS data that makes no sense
    digest: str  # content hash, a cache key

    @property
    def lonlat(self) -> tuple[float, float] | None:
        return (self.gps.lon, self.gps.lat) if self.gps is not None else None


def read_photo(data: bytes, name: str | None = None, max_bytes: int = MAX_IMAGE_BYTES) -> Photo:
    """Open untrusted photo bytes: size, format and decompression-bomb checks, then GPS, then pixels.

    Raises :class:`core.data.images.ImageRejected` (with a reason for the user) when the file cannot be
    used; nonsensical GPS data does not reject the photo, it is reported in ``gps_problem``.
    GPS is read from the header-only image, before decoding (which may drop the EXIF).
    """
    probe = probe_image_bytes(data, max_bytes=max_bytes, name=name)
    try:
        gps, problem = read_gps(probe), ""
    except GpsError as error:
        gps, problem = None, str(error)
    image = decode_rgb(probe, name=name)
    return Photo(image, gps, problem, hashlib.sha256(data).hexdigest()[:16])


#: The quick pipeline's location encoder and epochs per stage: small, minutes on a laptop CPU.
QUICK_LOCATION = {"encoding": "theory", "encoding_params": {"num_scales": 16}, "network_params": {"hidden_dim": 128}}
QUICK_EPOCHS = {"pretrain": 3, LOCATION_STAGE: 15, IMAGE_STAGE: 15}


def quick_pipeline_configs(dataset: str = "default", **overrides) -> list[RunConfig]:
    """Configs of the quick pipeline's three stages on ``dataset`` (pre-train, fine-tune, image classifier).

    ``overrides`` are top-level RunConfig fields applied to every stage (e.g. ``epochs``, ``data``).
    """
    return [
        RunConfig.from_dict(
            {"stage": stage, "epochs": epochs, "data": {"dataset": dataset}, "location": QUICK_LOCATION, **overrides}
        )
        for stage, epochs in QUICK_EPOCHS.items()
    ]


class QuickPipeline:
    """Pre-train → fine-tune from the pre-trained encoder → image classifier, queued on ``manager``.

    A daemon thread submits each stage once the one it needs has ended (fine-tuning needs the
    pre-training run's directory), so the pipeline goes on while the user switches pages.
    """

    def __init__(self, manager: JobManager, owner: str, configs: Sequence[RunConfig], made_by: str = "") -> None:
        self.jobs: list[Job] = []
        self.error = ""
        self._manager, self._owner, self._made_by = manager, owner, made_by
        pretrain, self._finetune, self._image = configs
        self._thread = threading.Thread(target=self._drive, args=(pretrain,), name="geocsp-quick-pipeline", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the whole pipeline; False when ``timeout`` seconds passed first."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _submit(self, config: RunConfig) -> Job:
        job = self._manager.submit(config, self._owner, made_by=self._made_by)
        self.jobs.append(job)
        return job

    def _drive(self, pretrain_config: RunConfig) -> None:
        try:
            pretrain = self._submit(pretrain_config)
            self._manager.join(pretrain)
            if pretrain.status not in SUCCEEDED:
                self.error = f"pre-training ended {pretrain.status}: {pretrain.error or pretrain.message}"
                return
            values = self._finetune.to_dict()
            values["finetune"]["init_from"] = str(pretrain.run_dir)
            for job in [self._submit(RunConfig.from_dict(values)), self._submit(self._image)]:
                self._manager.join(job)
            self.error = "; ".join(f"{job.kind} ended {job.status}: {job.error}" for job in self.jobs if job.status not in SUCCEEDED)
        except Exception as error:  # noqa: BLE001 — the pipeline reports, it never takes the app down
            self.error = one_line(error)
