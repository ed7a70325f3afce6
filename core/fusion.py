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


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature T minimising validation NLL of ``softmax(logits / T)`` (LBFGS on log T)."""
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


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
    """Fit temperatures, then (a, b, c) maximising validation accuracy (ties: lower NLL)."""
    t_image = fit_temperature(image_logits, labels)
    t_location = fit_temperature(location_logits, labels)
    image_lp = F.log_softmax(image_logits / t_image, -1)
    location_lp = F.log_softmax(location_logits / t_location, -1)
    best, best_key = None, None
    for a, b, c in itertools.product(WEIGHT_GRID, WEIGHT_GRID, PRIOR_GRID):
        if a == b == 0:
            continue
        probs = fuse_log_probs(image_lp, location_lp, prior, a, b, c)
        accuracy = float((probs.argmax(1) == labels).float().mean())
        nll = float(F.nll_loss(probs.clamp_min(1e-12).log(), labels))
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
