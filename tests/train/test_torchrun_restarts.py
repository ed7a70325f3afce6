"""torchrun on CPU (gloo) with a lost worker: a rank SIGKILLed in the middle of an epoch, torchrun restarts the
group and it resumes in the same run folder; a hung rank is named instead of holding the others; a 2-"node"
c10d rendezvous on localhost. Tiny fine-tuning runs on the default dataset's small-CNN features."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.data.paths import PROJECT_ROOT

pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / "data/cache/default/manifest.json").exists(), reason="default dataset not built (run setup)"
)
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
# 3 epochs of 4 steps per rank (2 ranks × 128 of 1 200 labelled places), no dropout: reproducible to the bit.
FINETUNE = [
    "-m", "core", "finetune", "--set", "data.image_encoder=small_cnn", "--set", "epochs=3", "--set", "batch_size=256",
    "--set", "finetune.label_ratio=0.05",
    "--set", "location={encoding: grid, encoding_params: {num_scales: 4}, network_params: {hidden_dim: 32, dropout: 0.0}}",
]  # fmt: skip


def torchrun(launch: list[str], runs: Path, fault: str = "", timeout_s: float = 0) -> subprocess.Popen:
    """Start ``torchrun <launch> -m core finetune ...`` with runs under ``runs``, a planned fault and a collective timeout."""
    environment = {**os.environ, "GEOCSP_RUNS": str(runs), "OMP_NUM_THREADS": "1", "GEOCSP_FAULT": fault}
    if timeout_s:
        environment["GEOCSP_DIST_TIMEOUT_S"] = str(timeout_s)
    return subprocess.Popen(
        [TORCHRUN, *launch, *FINETUNE], cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"torchrun did not finish in 180 s: {err[-3000:]}")
    return process.returncode, out, err


def run_folder(runs: Path) -> Path:
    (folder,) = runs.iterdir()  # the restarted group wrote into the folder of the first attempt
    return folder


def history(folder: Path) -> list[dict[str, str]]:
    with (folder / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "checkpoints" / "last" / "model.safetensors"))


STANDALONE = ["--standalone", "--nproc-per-node", "2", "--max-restarts", "1"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("uninterrupted")
    code, _, err = finish(torchrun(STANDALONE, runs))
    assert code == 0, err
    return run_folder(runs)


@pytest.mark.parametrize("step", [0, 2], ids=["epoch-boundary", "mid-epoch"])
def test_a_killed_rank_is_restarted_and_the_run_resumes_to_the_same_weights(uninterrupted, tmp_path, step):
    started = time.perf_counter()
    code, out, err = finish(torchrun(STANDALONE, tmp_path / "runs", fault=f"kill rank=1 epoch=2 step={step}"))
    print(f"killed at epoch 2 step {step}: {time.perf_counter() - started:.1f} s")
    assert code == 0, err
    assert "exitcode: -9" in err and "resuming" in err and "from its last checkpoint" in err
    folder = run_folder(tmp_path / "runs")
    assert [row["epoch"] for row in history(folder)] == ["1", "2", "3"]
    assert history(folder) == history(uninterrupted)
    with (folder / "steps.csv").open() as handle:  # every step once: the killed epoch's partial steps were dropped
        assert [int(row["step"]) for row in csv.DictReader(handle)] == list(range(1, 13))
    reference = weights(uninterrupted)
    for name, value in weights(folder).items():
        assert torch.equal(value, reference[name]), name


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (4, "rank 0: rank 1 did not reach the end of epoch 1 within 10 s (dead or hung"),
        (2, "rank 0: exchanging gradients at epoch 1, step 3 failed: another rank died or hung (waited at most 10 s"),
    ],
    ids=["at-the-epoch-end", "mid-epoch"],
)
def test_a_hung_rank_fails_the_group_after_the_timeout_not_never(tmp_path, step, message):
    started = time.perf_counter()
    code, _, err = finish(torchrun(["--standalone", "--nproc-per-node", "2"], tmp_path / "runs", f"hang rank=1 epoch=1 step={step}", timeout_s=10))
    print(f"hung rank at step {step} found in {time.perf_counter() - started:.1f} s")
    assert code != 0
    assert message in err, err[-3000:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_meet_by_c10d_rendezvous_and_restart_together(uninterrupted, tmp_path):
    rendezvous = ["--nnodes", "2", "--nproc-per-node", "1", "--max-restarts", "1", "--rdzv-backend", "c10d",
                  "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-id", "job42"]  # fmt: skip
    started = time.perf_counter()
    nodes = [torchrun([*rendezvous, "--node-rank", str(node)], tmp_path / "runs", "kill rank=1 epoch=2 step=1") for node in (0, 1)]
    results = [finish(node) for node in nodes]
    print(f"two nodes with a restart: {time.perf_counter() - started:.1f} s")
    for code, _, err in results:
        assert code == 0, err
    folder = run_folder(tmp_path / "runs")
    assert folder.name == "torchrun-finetune-job42"
    assert history(folder) == history(uninterrupted)
