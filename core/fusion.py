"""P(y | image, location) from P(y | image) and P(y | location).

The paper's product rule: ``P(y|I,x) ∝ P(y|I) · P(y|x) / P(y)``. Our calibrated variant first
temperature-scales each modality, then weights the three terms,
``P(y|I)^a · P(y|x)^b / P(y)^c``, with (a, b, c) chosen on validation from a grid that contains
image-only (1, 0, 0) and location-only (0, 1, 0) — so on validation it is never worse than the
better single modality.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

WEIGHT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
PRIOR_GRID = (0.0, 0.5, 1.0)


def product_fusion(image_probs: torch.Tensor, location_probs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """The product rule ``P(y|I) P(y|x) / P(y)``, renormalised."""
    return fuse_log_probs(image_probs.clamp_min(1e-12).log(), location_probs.clamp_min(1e-12).log(), prior, 1.0, 1.0, 1.0)


def fuse_log_probs(
    image_log_probs: torch.Tensor, location_log_probs: torch.Tensor, prior: torch.Tensor, a: float, b: float, c: float
) -> torch.Tensor:
    """``softmax(a·log P(y|I) + b·log P(y|x) − c·log P(y))``."""
    return F.softmax(a * image_log_probs + b * location_log_probs - c * prior.clamp_min(1e-12).log(), dim=-1)


TEMPERATURE_RANGE = (0.05, 20.0)
"""Temperatures :func:`fit_temperature` may return."""


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a float64 array ``[N, C]``."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature T in :data:`TEMPERATURE_RANGE` minimising the validation NLL of ``softmax(logits / T)``.

    The NLL is convex in β = 1/T, with slope mean(E_p[z] − z_y) and curvature mean(Var_p[z]) under
    p = softmax(β·z): safeguarded Newton steps on β inside a bracket that shrinks to the slope's root
    (bisection when a step would leave it). In float64 numpy, a few dozen passes over ``[N, C]``: no
    autograd, no optimizer, no intra-op threads waiting on each other on a busy machine.
    """
    z = logits.detach().double().cpu().numpy()
    y = labels.cpu().numpy()
    z_true = z[np.arange(len(y)), y]

    def slope_and_curvature(beta: float) -> tuple[float, float]:
        p = np.exp(_log_softmax(beta * z))
        mean = (p * z).sum(axis=1)
        return float((mean - z_true).mean()), float(((p * z * z).sum(axis=1) - mean**2).mean())

    low, high = 1.0 / TEMPERATURE_RANGE[1], 1.0 / TEMPERATURE_RANGE[0]
    if slope_and_curvature(low)[0] >= 0.0:
        return TEMPERATURE_RANGE[1]
    if slope_and_curvature(high)[0] <= 0.0:
        return TEMPERATURE_RANGE[0]
    beta = 1.0
    for _ in range(100):
        slope, curvature = slope_and_curvature(beta)
        low, high = (beta, high) if slope < 0.0 else (low, beta)
        if slope == 0.0 or high - low <= 1e-10 * high:
            break
        step = beta - slope / curvature if curvature > 0.0 else np.nan
        beta = step if low < step < high else (low + high) / 2.0
    return 1.0 / beta


@dataclass(frozen=True)
class CalibratedFusion:
    """Temperatures of each modality's logits and the exponents (a, b, c) of the weighted product."""

    image_temperature: float
    location_temperature: float
    a: float
    b: float
    c: float

    def __call__(self, image_logits: torch.Tensor, location_logits: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """Fused class distribution ``[N, C]``."""
        return fuse_log_probs(
            F.log_softmax(image_logits / self.image_temperature, -1),
            F.log_softmax(location_logits / self.location_temperature, -1),
            prior,
            self.a,
            self.b,
            self.c,
        )


def fit_calibrated_fusion(
    image_logits: torch.Tensor, location_logits: torch.Tensor, prior: torch.Tensor, labels: torch.Tensor
) -> CalibratedFusion:
    """Fit temperatures, then (a, b, c) maximising validation accuracy (ties: lower NLL); in float64 numpy."""
    t_image = fit_temperature(image_logits, labels)
    t_location = fit_temperature(location_logits, labels)
    image_lp = _log_softmax(image_logits.detach().double().cpu().numpy() / t_image)
    location_lp = _log_softmax(location_logits.detach().double().cpu().numpy() / t_location)
    log_prior = np.log(prior.double().clamp_min(1e-12).cpu().numpy())
    y = labels.cpu().numpy()
    rows = np.arange(len(y))
    best, best_key = None, None
    for a, b, c in itertools.product(WEIGHT_GRID, WEIGHT_GRID, PRIOR_GRID):
        if a == b == 0:
            continue
        log_probs = _log_softmax(a * image_lp + b * location_lp - c * log_prior)
        accuracy = float((log_probs.argmax(axis=1) == y).mean())
        nll = float(-np.maximum(log_probs[rows, y], np.log(1e-12)).mean())
        key = (accuracy, -nll)
        if best_key is None or key > best_key:
            best, best_key = (a, b, c), key
    return CalibratedFusion(t_image, t_location, *best)


def fusion_report(
    image_logits: dict[str, torch.Tensor],
    location_logits: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor],
    prior: torch.Tensor,
) -> dict[str, dict[str, float]]:
    """Test metrics of image-only, location-only, product and calibrated fusion.

    Each argument maps "val" and "test" to that split's logits/labels; the calibrated fusion is fit
    on "val" only.
    """
    from core.evaluate import classification_metrics

    test_image = F.softmax(image_logits["test"], -1)
    test_location = F.softmax(location_logits["test"], -1)
    calibrated = fit_calibrated_fusion(image_logits["val"], location_logits["val"], prior, labels["val"])
    return {
        "image": classification_metrics(test_image, labels["test"]),
        "location": classification_metrics(test_location, labels["test"]),
        "product": classification_metrics(product_fusion(test_image, test_location, prior), labels["test"]),
        "calibrated": classification_metrics(
            calibrated(image_logits["test"], location_logits["test"], prior), labels["test"]
        ),
    }
