"""Mixed-precision training (train.precision): bf16 and fp16 steps really run in the lower precision on the CPU,
learn like fp32, keep float32 weights, and a bad precision is refused by name."""

import pytest
import torch

from core.location.params import ConfigError
from core.train.config import RunConfig
from core.train.precision import MixedPrecision
from core.train.runner import run
from tests.train.test_trainer import config


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_lower_precision_run_learns_like_fp32_with_float32_weights(small_data, runs, precision, monkeypatch):
    seen: list[torch.dtype] = []
    linear = torch.nn.functional.linear
    monkeypatch.setattr(torch.nn.functional, "linear", lambda x, w, b=None: seen.append(linear(x, w, b).dtype) or linear(x, w, b))
    lower = run(config(train={"precision": precision}), data=small_data)
    assert {torch.bfloat16 if precision == "bf16" else torch.float16} & set(seen), "the training forward ran in the lower precision"
    full = run(config(), data=small_data)
    first, last = lower.fit.history[0], lower.fit.history[-1]
    assert lower.status == "completed" and last["train_loss"] < first["train_loss"]
    assert last["val_loss"] == pytest.approx(full.fit.history[-1]["val_loss"], rel=0.05), "learns like fp32"
    assert RunConfig.from_yaml((lower.run_dir / "config.yaml").read_text()).train.precision == precision


def test_the_fp16_scaler_skips_a_step_whose_gradients_overflow():
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    precision = MixedPrecision("fp16", "cpu")
    before = model.weight.detach().clone()
    with precision.autocast():
        loss = model(torch.full((2, 4), 6e4)).sum() * 1e4
    precision.step(loss, optimizer, model, grad_clip=1.0)
    assert torch.equal(model.weight, before), "an overflowed step changes nothing"
    assert precision.scaler.get_scale() < 2.0**16
    assert model.weight.dtype == torch.float32


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"train.precision: 'fp8' is not one of"):
        RunConfig.from_dict({"train": {"precision": "fp8"}})


@pytest.mark.skipif(torch.cuda.is_available(), reason="the check itself runs on a CUDA machine")
def test_the_device_check_says_there_is_no_cuda_and_exits_0():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "benchmarks.device_check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "no CUDA device visible" in result.stdout
