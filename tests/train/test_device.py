"""Where a run trains (train.device): the choices, a device this machine lacks refused before any folder is made,
the device named in the run card, and a run resumed on another device. On a CUDA machine, a GPU run of the small
config follows the CPU run (same batches and negatives, drawn on the CPU)."""

import threading

import pytest
import torch

from core.location.params import ConfigError
from core.train.config import RunConfig
from core.train.device import available_devices, module_device, resolve_device
from core.train.loop import config_differences
from core.train.runner import run
from tests.train.test_trainer import config, steps_per_epoch

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def test_the_device_defaults_to_auto_round_trips_and_a_bad_name_is_refused_by_key():
    assert RunConfig().train.device == "auto"
    assert RunConfig.from_yaml(RunConfig.from_dict({"train": {"device": "cuda:1"}}).to_yaml()).train.device == "cuda:1"
    for bad in ("gpu", "cuda:", "cuda:-1", "CPU", 0):
        with pytest.raises(ConfigError, match=r"train\.device"):
            RunConfig.from_dict({"train": {"device": bad}})


@no_cuda
def test_without_cuda_auto_is_the_cpu_and_a_cuda_device_is_refused_plainly():
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")
    assert available_devices() == ["auto", "cpu"]
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=rf"train.device={name}, but torch .* sees no CUDA device here.*train.device=cpu or auto"):
            resolve_device(name)


@no_cuda
def test_a_run_on_a_missing_gpu_is_refused_before_its_folder_is_made(small_data, runs):
    with pytest.raises(ValueError, match="no CUDA device"):
        run(config(train={"device": "cuda"}), runs / "gpu-run", data=small_data)
    assert not (runs / "gpu-run").exists()


def test_a_run_names_its_device_and_resumes_on_another_device_setting(small_data, runs):
    stop = threading.Event()
    stop_at = steps_per_epoch(small_data) + 1  # a step into epoch 2
    first = run(config(train={"device": "cpu"}), runs / "moved", data=small_data, stop=stop,
                on_step=lambda step: stop.set() if step.step == stop_at else None)
    assert first.status == "stopped" and first.fit.device == "cpu"
    resumed = run(config(train={"device": "auto"}), runs / "moved", data=small_data, resume=True)
    straight = run(config(train={"device": "cpu"}), data=small_data)
    assert resumed.status == "completed" and resumed.test_metrics == straight.test_metrics
    card = (runs / "moved" / "run_card.md").read_text()
    assert f"trained on {resolve_device('auto')} (train.device=auto, precision fp32)" in card
    saved, changed = config(train={"device": "cpu"}).to_dict(), config(train={"device": "cuda", "precision": "bf16"}).to_dict()
    assert config_differences(saved, changed) == ["train.precision: checkpoint has 'fp32', this run has 'bf16'"]


def test_module_device_reads_parameters_then_buffers():
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.BatchNorm1d(2, affine=False)) == torch.device("cpu")
    assert module_device(torch.nn.Identity()) == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
def test_a_gpu_run_follows_the_cpu_run(small_data, runs, stage):
    cpu = run(config(stage=stage, train={"device": "cpu"}), data=small_data)
    gpu = run(config(stage=stage, train={"device": "cuda"}), data=small_data)
    assert gpu.fit.device.startswith("cuda") and gpu.status == "completed"
    for a, b in zip(cpu.fit.history, gpu.fit.history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.02)
