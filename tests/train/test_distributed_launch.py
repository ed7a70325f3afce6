"""What a torchrun launch decides before training (run folder, resume), the timeout setting and the fault hook's
spelling: in-process, with torchrun's variables set as torchrun sets them."""

from __future__ import annotations

import os
import socket

import pytest
from torch import nn

from core.train import faults
from core.train.checkpoint import replace_checkpoint
from core.train.config import RunConfig
from core.ranks import collective_timeout
from core.train.distributed import torchrun_launch


@pytest.fixture
def torchrun_env(runs, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job 7/a")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    return runs


@pytest.mark.parametrize("stage", ["pretrain", "moco"])
def test_the_run_folder_is_named_after_the_rendezvous_and_a_checkpoint_of_the_config_resumes(torchrun_env, monkeypatch, stage):
    config = RunConfig.from_dict({"stage": stage, "epochs": 3})
    launch = torchrun_launch(config, None)
    assert launch.run_dir == torchrun_env.resolve() / f"torchrun-{stage}-job_7_a" and not launch.resume

    replace_checkpoint(launch.run_dir / "checkpoints" / "last", nn.Linear(1, 1), None, {"epoch": 1}, config.to_dict())
    assert torchrun_launch(config, None).resume
    other = RunConfig.from_dict({"stage": stage, "epochs": 4})
    assert not torchrun_launch(other, None).resume  # another config starts afresh, as without torchrun
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert torchrun_launch(other, launch.run_dir).resume  # a restarted group always resumes (and refuses a changed config)


def test_without_a_rendezvous_id_the_folder_is_named_after_the_host_and_agent(torchrun_env, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    launch = torchrun_launch(RunConfig(), None)
    assert launch.run_dir.name == f"torchrun-pretrain-{socket.gethostname()}-{os.getppid()}"


def test_outside_torchrun_nothing_is_decided(runs, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert torchrun_launch(RunConfig(), None) is None


def test_the_timeout_is_read_from_the_environment_and_bad_values_are_named(monkeypatch):
    monkeypatch.delenv("GEOCSP_DIST_TIMEOUT_S", raising=False)
    assert collective_timeout() == 1800
    monkeypatch.setenv("GEOCSP_DIST_TIMEOUT_S", "2.5")
    assert collective_timeout() == 2.5
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("GEOCSP_DIST_TIMEOUT_S", bad)
        with pytest.raises(ValueError, match=f"GEOCSP_DIST_TIMEOUT_S must be .*{bad}"):
            collective_timeout()


def test_a_misspelt_fault_is_refused_and_a_restarted_group_injects_none(monkeypatch):
    faults._planned_fault.cache_clear()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    for bad in ("kill rank=1 epoch=2", "explode rank=1 epoch=2 step=0", "kill rank=1 epoch=2 step=0 when=now", "kill rank=one epoch=2 step=0"):
        monkeypatch.setenv("GEOCSP_FAULT", bad)
        with pytest.raises(ValueError, match="GEOCSP_FAULT must read"):
            faults.fault_point(0, 1, 0)
        faults._planned_fault.cache_clear()
    monkeypatch.setenv("GEOCSP_FAULT", "kill rank=0 epoch=1 step=0")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    faults.fault_point(0, 1, 0)  # would SIGKILL this test process on a first attempt
    faults._planned_fault.cache_clear()
