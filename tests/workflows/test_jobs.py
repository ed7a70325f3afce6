"""Background jobs on tiny real data: a FIFO queue with one worker, stop/cancel, failures, owners, runs on disk."""

import threading

import pytest

from core.data.default_dataset import DefaultDatasetConfig, load_default_dataset
from core.image.features import extract_features
from core.train.config import RunConfig
from core.train.data import feature_data_from
from core.location import ConfigError
from core.workflows.jobs import ERROR_LOG, JobManager, pretrained_runs_for, sweep_plan
from core.train.records import compare_runs, list_runs, list_sweeps, read_run
from core.train.runner import run

TINY_LOCATION = {"encoding": "theory", "encoding_params": {"num_scales": 4}, "network_params": {"hidden_dim": 32}}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-default")
    dataset = load_default_dataset(DefaultDatasetConfig(n_locations=600, chip_px=16), directory=root / "default")
    return feature_data_from(dataset, extract_features(dataset, "small_cnn", cache_dir=root / "features"), "small_cnn")


def tiny_config(**overrides) -> RunConfig:
    values = {"epochs": 2, "batch_size": 64, "location": TINY_LOCATION, "data": {"image_encoder": "small_cnn"}}
    values.update(overrides)
    return RunConfig.from_dict(values)


@pytest.fixture
def manager(tiny_data, runs):
    return JobManager(runs, data_provider=lambda data_config, progress: tiny_data)


def test_two_jobs_submitted_at_once_run_one_after_the_other(tiny_data, runs):
    submitted = []
    seen = []
    both_submitted = threading.Event()

    def provider(data_config, progress):
        assert both_submitted.wait(timeout=60)  # the worker may start the first job before the test lists it
        seen.append([job.status for job in submitted])
        return tiny_data

    manager = JobManager(runs, data_provider=provider)
    submitted += [manager.submit(tiny_config(), "A"), manager.submit(tiny_config(seed=1), "B")]
    both_submitted.set()
    assert submitted[1].status == "queued" and submitted[1].position >= 1
    assert all(manager.join(job, timeout=120) for job in submitted)
    assert [job.status for job in submitted] == ["completed", "completed"]
    assert seen == [["running", "queued"], ["completed", "running"]], "runs must never overlap"
    first, second = submitted
    assert first.run_dir != second.run_dir and second.position == 0
    assert len(first.epoch_metrics()) == 2 and {"loss", "in_batch", "simcse"} <= set(first.steps()[0])
    assert "test_retrieval_top1" in first.metrics and first.progress == 1.0


def test_stop_ends_a_running_job_with_a_resumable_checkpoint_and_cancels_a_queued_one(manager, tiny_data):
    config = tiny_config(epochs=30, patience=30)
    running = manager.submit(config, "A")
    queued = manager.submit(tiny_config(), "A")
    queued.stop()
    assert queued.status == "stopped" and queued.position == 0
    while not running.epoch_metrics():
        assert manager.join(running, timeout=0.01) is False, running.error
    running.stop()
    assert manager.join(running, timeout=60)
    assert running.status == "stopped" and 1 <= len(running.epoch_metrics()) < 30
    assert (running.run_dir / "checkpoints" / "last").is_dir()
    assert queued.run_dir is None, "a cancelled job never starts"

    resumed = run(config, running.run_dir, data=tiny_data, resume=True)
    assert resumed.status in ("completed", "early_stopped")
    first_epoch = running.epoch_metrics()[0]
    assert {k: resumed.fit.history[0][k] for k in first_epoch} == pytest.approx(first_epoch)


def test_a_failing_run_ends_failed_with_one_line_and_logs_the_traceback(manager, runs):
    job = manager.submit(tiny_config(stage="finetune", finetune={"init_from": str(runs / "nowhere")}), "A")
    assert manager.join(job, timeout=60)
    assert job.status == "failed"
    assert "not a GeoCSP checkpoint" in job.error and "\n" not in job.error and "Traceback" not in job.error
    assert "Traceback" in (job.run_dir / ERROR_LOG).read_text()
    [record] = list_runs(runs)
    assert record.status == "failed" and "not a GeoCSP checkpoint" in record.card()


def test_owners_see_only_their_own_jobs(manager):
    a = manager.submit(tiny_config(epochs=1), "A")
    b = manager.submit(tiny_config(epochs=1), "B")
    assert manager.jobs("A") == [a] and manager.jobs("B") == [b] and manager.jobs("C") == []
    assert manager.get(b.id, "A") is None and manager.get(b.id, "B") is b
    assert manager.join(a, timeout=60) and manager.join(b, timeout=60)


def test_list_runs_finds_finished_runs_and_compares_them(manager, runs):
    pretrain = manager.submit(tiny_config(epochs=1), "A")
    assert manager.join(pretrain, timeout=60) and pretrain.status == "completed"
    finetune = manager.submit(tiny_config(stage="finetune", finetune={"init_from": str(pretrain.run_dir)}), "A")
    assert manager.join(finetune, timeout=60) and finetune.status == "completed", finetune.error

    records = list_runs()  # GEOCSP_RUNS points at `runs`
    assert {r.run_dir for r in records} == {pretrain.run_dir, finetune.run_dir}
    assert [r.run_dir for r in pretrained_runs_for(records, tiny_config().location)] == [pretrain.run_dir]
    assert pretrained_runs_for(records, tiny_config(location={"encoding": "wrap"}).location) == []
    assert "# Run" in records[0].card() and list(records[0].history()["epoch"]) in ([1], [1, 2])

    table = compare_runs(filter(None, map(read_run, [pretrain.run_dir, finetune.run_dir, runs / "missing"])))
    assert list(table.index) == [pretrain.run_dir.name, finetune.run_dir.name]
    assert list(table["stage"]) == ["pretrain", "finetune"] and list(table["encoding"]) == ["theory", "theory"]
    assert table.loc[finetune.run_dir.name, "test_top1"] >= 0 and "best_val_loss" in table.columns


def test_a_sweep_is_queued_like_a_run_and_listed_when_done(manager, runs):
    plan = sweep_plan(["wrap"], [1.0], n_seeds=1, pretrain_epochs=1, finetune_steps=5, workers=1)
    job = manager.submit(tiny_config(), "A", plan)
    assert manager.join(job, timeout=120) and job.status == "completed", job.error
    assert job.kind == "sweep" and job.progress == 1.0
    assert list_sweeps() == [job.run_dir]
    assert "CSP gain" in (job.run_dir / "sweep.md").read_text() and (job.run_dir / "sweep.png").stat().st_size > 0
    assert list_runs() == [], "a sweep is not a single run"


@pytest.mark.parametrize(
    ("field", "values"),
    [("encodings", {"encodings": []}), ("encodings", {"encodings": ["nope"]}), ("ratios", {"ratios": [0.0]}), ("seeds", {"n_seeds": 0})],
)
def test_a_bad_sweep_plan_is_refused_by_name(field, values):
    arguments = {"encodings": ["wrap"], "ratios": [0.5], "n_seeds": 1, "pretrain_epochs": 1, "finetune_steps": 5, "workers": 1}
    with pytest.raises(ConfigError, match=f"sweep.{field}"):
        sweep_plan(**{**arguments, **values})
