"""Training objectives: CSP's MC-SSL and its single-term variants, CLIP InfoNCE, supervised losses.

Every loss returns a :class:`LossOutput`: the total to back-propagate plus each part as a float, so
the app can chart the parts. Temperatures are divisors: ``logits = cos_sim / τ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

#: Pre-training objectives by name (the trainer and the app read this).
PRETRAINING_OBJECTIVES = {
    "mcssl": "CSP MC-SSL: in-batch negatives + random negative locations + SimCSE (each switchable)",
    "nce": "InfoNCE with in-batch negatives only (location → image)",
    "mse": "mean squared error between normalised location and image embeddings",
    "clip": "symmetric CLIP InfoNCE with a learnable temperature (SatCLIP / GeoCLIP style)",
}


@dataclass
class LossOutput:
    """The loss to optimise and its named parts (detached floats, for logging and charts)."""

    total: Tensor
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MCSSLWeights:
    """Weights and temperatures of the three MC-SSL parts (a weight of 0 switches a part off).

    τ_in_batch, τ_negative_location and τ_simcse divide the cosine similarities of their part.
    """

    in_batch: float = 1.0
    negative_location: float = 1.0
    simcse: float = 1.0
    tau_in_batch: float = 0.1
    tau_negative_location: float = 0.1
    tau_simcse: float = 0.1


def info_nce(queries: Tensor, keys: Tensor, tau: float) -> Tensor:
    """Cross-entropy of ``cos(q_i, k_j) / τ`` with target ``j = i`` (in-batch negatives)."""
    return _unit_info_nce(F.normalize(queries, dim=-1), F.normalize(keys, dim=-1), tau)


def negative_location_loss(location: Tensor, image: Tensor, negative_locations: Tensor, tau: float) -> Tensor:
    """CE of ``[cos(e(x_i), g(f_i)), cos(e(x⁻_ik), g(f_i))_k] / τ`` with target 0.

    ``negative_locations`` is ``[B, D]`` (one negative each) or ``[B, K, D]``.
    """
    return _unit_negative_location_loss(F.normalize(location, dim=-1), F.normalize(image, dim=-1), negative_locations, tau)


def _unit_info_nce(queries: Tensor, keys: Tensor, tau: float) -> Tensor:
    """:func:`info_nce` of unit vectors; 1/τ scales the ``[B, D]`` queries rather than the ``[B, B]`` logits."""
    logits = (queries * (1.0 / tau)) @ keys.T
    return F.cross_entropy(logits, torch.arange(len(queries), device=queries.device))


def _unit_negative_location_loss(location: Tensor, image: Tensor, negative_locations: Tensor, tau: float) -> Tensor:
    """:func:`negative_location_loss` with ``location`` and ``image`` already unit vectors."""
    image = image * (1.0 / tau)
    positive = (location * image).sum(-1, keepdim=True)
    negatives = F.normalize(negative_locations, dim=-1)
    if negatives.dim() == 2:
        negatives = negatives[:, None, :]
    negative = (negatives * image[:, None, :]).sum(-1)  # K dot products per row: elementwise beats bmm's tiny GEMMs
    logits = torch.cat([positive, negative], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


def mcssl_loss(
    location: Tensor,
    image: Tensor,
    weights: MCSSLWeights,
    negative_locations: Tensor | None = None,
    location_second_pass: Tensor | None = None,
) -> LossOutput:
    """CSP's multi-part contrastive loss (see DESIGN.md):

    ``L = CE(cos(e(x_i), g(f_j))/τ1) + α·CE([pos, cos(e(x⁻), g(f_i))]/τ2) + β·CE(cos(e(x_i), e'(x_j))/τ3)``
    where ``e'`` is the same encoder under a second dropout mask (SimCSE). Each embedding is
    normalised once and shared by the parts that read it.
    """
    if weights.negative_location and negative_locations is None:
        raise ValueError("the negative-location part is on but no negative location embeddings were given")
    if weights.simcse and location_second_pass is None:
        raise ValueError("the SimCSE part is on but no second-dropout-pass embeddings were given")
    if not (weights.in_batch or weights.negative_location or weights.simcse):
        raise ValueError("every MC-SSL part is switched off: give at least one a positive weight")
    location = F.normalize(location, dim=-1)
    parts: dict[str, Tensor] = {}
    if weights.in_batch or weights.negative_location:
        image = F.normalize(image, dim=-1)
        if weights.in_batch:
            parts["in_batch"] = weights.in_batch * _unit_info_nce(location, image, weights.tau_in_batch)
        if weights.negative_location:
            parts["negative_location"] = weights.negative_location * _unit_negative_location_loss(
                location, image, negative_locations, weights.tau_negative_location
            )
    if weights.simcse:
        second = F.normalize(location_second_pass, dim=-1)
        parts["simcse"] = weights.simcse * _unit_info_nce(location, second, weights.tau_simcse)
    return _combine(parts)


def nce_loss(location: Tensor, image: Tensor, tau: float) -> LossOutput:
    """The single-term variant: InfoNCE with in-batch negatives only (location → image)."""
    return _combine({"nce": info_nce(location, image, tau)})


def mse_loss(location: Tensor, image: Tensor) -> LossOutput:
    """Squared distance between the L2-normalised embeddings of matching pairs."""
    diff = F.normalize(location, dim=-1) - F.normalize(image, dim=-1)
    return _combine({"mse": diff.pow(2).sum(-1).mean()})


def clip_loss(location: Tensor, image: Tensor, log_inverse_tau: Tensor) -> LossOutput:
    """Symmetric InfoNCE; the learnable temperature is ``τ = exp(-log_inverse_tau)``, capped at 1/100."""
    scale = log_inverse_tau.clamp(max=math.log(100.0)).exp()
    logits = F.normalize(location, dim=-1) @ F.normalize(image, dim=-1).T * scale
    targets = torch.arange(len(logits), device=logits.device)
    output = _combine(
        {
            "location_to_image": 0.5 * F.cross_entropy(logits, targets),
            "image_to_location": 0.5 * F.cross_entropy(logits.T, targets),
        }
    )
    output.parts["tau"] = float(1.0 / scale.detach())
    return output


def cross_entropy_loss(logits: Tensor, labels: Tensor) -> LossOutput:
    """Plain supervised cross-entropy over class logits."""
    return _combine({"cross_entropy": F.cross_entropy(logits, labels)})


def presence_only_loss(
    logits: Tensor, labels: Tensor, random_location_logits: Tensor, positive_weight: float | None = None
) -> LossOutput:
    """Presence-only loss (geo_prior / SINR "assume negative, full") for sigmoid scores ``s_c(x)``:

    ``−λ·log σ(s_y(x)) − Σ_{c≠y} log(1 − σ(s_c(x))) − Σ_c log(1 − σ(s_c(r)))``, averaged over
    batch and classes, ``r`` a random location. ``λ`` defaults to the number of classes, which
    balances the one observed class against the classes assumed absent.
    """
    n_classes = logits.shape[1]
    weight = float(n_classes if positive_weight is None else positive_weight)
    observed = F.one_hot(labels, n_classes).bool()
    at_location = torch.where(observed, -weight * F.logsigmoid(logits), -F.logsigmoid(-logits))
    background = -F.logsigmoid(-random_location_logits)
    return _combine({"presence": at_location.mean(), "background": background.mean()})


def _combine(parts: dict[str, Tensor]) -> LossOutput:
    total = torch.stack(list(parts.values())).sum()
    return LossOutput(total, {name: float(value.detach()) for name, value in parts.items()})
