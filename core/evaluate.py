"""Classification metrics: top-1, top-3, mean reciprocal rank, per-class accuracy, calibration error."""

from __future__ import annotations

import torch
from torch import nn

from core.train.device import module_device


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> dict[str, float]:
    """Metrics of predicted class distributions ``[N, C]`` against true labels ``[N]``."""
    if len(labels) == 0:
        raise ValueError("no labelled records to evaluate on")
    true_score = probs.gather(1, labels[:, None])
    rank = (probs > true_score).sum(1) + 1  # 1 = the true class has the highest probability
    top1 = probs.argmax(1)
    return {
        "top1": float((rank == 1).float().mean()),
        "top3": float((rank <= 3).float().mean()),
        "mrr": float((1.0 / rank.float()).mean()),
        "per_class_accuracy": per_class_accuracy(top1, labels),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "n": float(len(labels)),
    }


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of the fraction of that class predicted correctly."""
    n_classes = int(max(predicted.max(), labels.max())) + 1
    totals = torch.bincount(labels, minlength=n_classes).float()
    correct = torch.bincount(labels[predicted == labels], minlength=n_classes).float()
    present = totals > 0
    return float((correct[present] / totals[present]).mean())


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """ECE: confidence-vs-accuracy gap averaged over equal-width confidence bins, weighted by count."""
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).float()
    bins = torch.clamp((confidence * n_bins).long(), max=n_bins - 1)
    gap = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            gap += float(members.float().mean() * (confidence[members].mean() - correct[members].mean()).abs())
    return gap


@torch.no_grad()
def predict_logits(model: nn.Module, inputs: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """Model outputs over ``inputs`` in eval mode, batched on the model's device; returned on the CPU."""
    model.eval()
    device = module_device(model)
    return torch.cat(
        [model(inputs[start : start + batch_size].to(device)).cpu() for start in range(0, len(inputs), batch_size)]
    )
