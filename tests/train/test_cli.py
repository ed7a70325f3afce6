"""The command line end to end on the real default dataset (small CNN features), as a user runs it."""

import json
import shutil
import subprocess
import sys

import pytest

from core.__main__ import main
from core.data.paths import PROJECT_ROOT


def cli(*args, env_runs):
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "GEOCSP_RUNS": str(env_runs), "OMP_NUM_THREADS": "1"},
        timeout=600,
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{") :])


@pytest.mark.skipif(not (PROJECT_ROOT / "data/cache/default/manifest.json").exists(), reason="default dataset not built (run setup)")
def test_pretrain_finetune_evaluate_from_the_command_line(tmp_path):
    common = ["--set", "data.image_encoder=small_cnn", "--set", "location={encoding: theory, encoding_params: {num_scales: 8}}", "--set", "batch_size=1024"]
    pre = cli("pretrain", *common, "--set", "epochs=1", env_runs=tmp_path)
    assert pre.returncode == 0, pre.stderr
    pre_out = last_json(pre.stdout)
    assert pre_out["status"] == "completed" and "test_retrieval_top1" in pre_out

    fine = cli("finetune", *common, "--set", "epochs=2", "--set", f"finetune.init_from={pre_out['run_dir']}", env_runs=tmp_path)
    assert fine.returncode == 0, fine.stderr
    image = cli("image-classifier", *common, "--set", "epochs=2", env_runs=tmp_path)
    assert image.returncode == 0, image.stderr

    evaluation = cli(
        "evaluate", "--location-run", last_json(fine.stdout)["run_dir"], "--image-run", last_json(image.stdout)["run_dir"], env_runs=tmp_path
    )
    assert evaluation.returncode == 0, evaluation.stderr
    report = last_json(evaluation.stdout)
    assert set(report) == {"image", "location", "product", "calibrated"}


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path):
    result = cli("pretrain", "--set", "optim.lr=-1", env_runs=tmp_path)
    assert result.returncode == 2
    assert "optim.lr" in result.stderr and "Traceback" not in result.stderr


CHECKPOINT_FILES = ("model.safetensors", "optimizer.safetensors", "trainer.json", "config.json", "steps.jsonl")


@pytest.mark.skipif(not (PROJECT_ROOT / "data/cache/default/manifest.json").exists(), reason="default dataset not built (run setup)")
def test_resuming_from_a_truncated_checkpoint_file_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    common = ["--set", "data.image_encoder=small_cnn", "--set", "location={encoding: theory, encoding_params: {num_scales: 8}}", "--set", "batch_size=1024", "--set", "epochs=1"]
    finished = tmp_path / "finished"
    assert cli("pretrain", *common, "--run-dir", str(finished), env_runs=tmp_path).returncode == 0
    for name in CHECKPOINT_FILES:
        shutil.copytree(finished, tmp_path / name)
        checkpoints = tmp_path / name / "checkpoints"
        path = checkpoints / name if name == "steps.jsonl" else checkpoints / "last" / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    resumed = cli("pretrain", *common, "--run-dir", str(tmp_path / "optimizer.safetensors"), "--resume", env_runs=tmp_path)
    assert resumed.returncode == 2 and "optimizer.safetensors" in resumed.stderr and "Traceback" not in resumed.stderr, resumed.stderr
    for name in CHECKPOINT_FILES:  # the same entry point in this process: each file, without a new interpreter each
        assert main(["pretrain", *common, "--run-dir", str(tmp_path / name), "--resume"]) == 2, name
        assert name in capsys.readouterr().err
