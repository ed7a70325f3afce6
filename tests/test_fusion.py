"""Calibrated fusion: the fitted temperature is the validation-NLL optimum, and fitting stays cheap (no optimizer)."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from core.data.paths import PROJECT_ROOT
from core.fusion import TEMPERATURE_RANGE, fit_calibrated_fusion, fit_temperature


def sampled(temperature: float, n: int = 4000, classes: int = 17, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``z · temperature`` and labels drawn from softmax(z): the NLL-optimal temperature is about ``temperature``."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, classes, generator=generator)
    labels = torch.multinomial(F.softmax(z, -1), 1, generator=generator).squeeze(1)
    return z * temperature, labels


@pytest.mark.parametrize("temperature", [0.1, 0.3, 1.0, 4.0])
def test_the_fitted_temperature_is_the_validation_nll_optimum(temperature):
    logits, labels = sampled(temperature)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(temperature, rel=0.1)
    # LBFGS on log T (the previous fit) returned 0.28 for 0.1 and 0.05 for 0.3; a fine scan agrees with the fit.
    scan = torch.logspace(-1.4, 1.3, 1500, dtype=torch.float64)
    nll = torch.stack([F.cross_entropy(logits.double() / t, labels) for t in scan])
    assert fitted == pytest.approx(float(scan[nll.argmin()]), rel=5e-3)


def test_temperatures_outside_the_range_are_clamped_to_its_ends():
    logits, labels = sampled(1.0)
    assert fit_temperature(logits * 1000.0, labels) == TEMPERATURE_RANGE[1]  # wildly overconfident
    assert fit_temperature(logits / 1000.0, labels) == TEMPERATURE_RANGE[0]  # nearly flat


def test_calibrated_fusion_never_loses_to_either_modality_on_the_data_it_was_fit_on():
    image, labels = sampled(2.0, seed=1)
    location, _ = sampled(0.5, seed=2)
    location = location + 4.0 * F.one_hot(labels, 17) * (torch.rand(len(labels), 1, generator=torch.Generator().manual_seed(3)) < 0.5)
    prior = torch.full((17,), 1 / 17)
    fusion = fit_calibrated_fusion(image, location, prior, labels)

    def accuracy(probs: torch.Tensor) -> float:
        return float((probs.argmax(1) == labels).float().mean())

    assert accuracy(fusion(image, location, prior)) >= max(accuracy(image), accuracy(location))


def test_fitting_builds_no_torch_optimizer():
    """A torch optimizer imports torch._dynamo on first use (3 s on a busy 2-core machine): the first Predict
    page of a fresh server paid it. The fit is a closed-form Newton search instead."""
    script = (
        "import sys, torch; from core.fusion import fit_calibrated_fusion; "
        "fit_calibrated_fusion(torch.randn(50, 4), torch.randn(50, 4), torch.full((4,), 0.25), torch.arange(50) % 4); "
        "print('torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
