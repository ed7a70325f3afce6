"""Background training jobs for the app: one FIFO queue, one worker thread, plain job objects.

The machine has few cores, so runs never train concurrently: :class:`JobManager` queues every
submitted run and a single daemon thread trains them one after the other. A :class:`Job` is a plain
object the worker updates (status, progress, a downsampled loss history, per-epoch validation
metrics); a page polls it and draws it. Finished runs live on disk (see :mod:`core.train.runner`),
so :func:`core.train.records.list_runs` finds them again after a page switch or a restart, and
:func:`core.train.records.compare_runs` tabulates them side by side. A job may also be a label-budget sweep
(:mod:`core.workflows.sweep`), queued the same way; :func:`core.train.records.list_sweeps` finds finished ones.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from core.workflows.sweep import SweepPlan, label_budget_sweep
from core.location import ENCODINGS, ConfigError
from core.files import atomic_write_json
from core.train.config import DataConfig, RunConfig
from core.train.data import FeatureData, load_feature_data
from core.train.loop import EpochInfo, StepInfo
from core.train.records import ORIGIN_FILE, RunRecord
from core.train.runner import new_run_dir, run

Progress = Callable[[float, str], None]
#: Loads a run's training data: ``provider(data_config, progress)``; tests pass small in-memory data.
DataProvider = Callable[[DataConfig, Progress], FeatureData]

ACTIVE = ("queued", "running")
FINISHED = ("completed", "early_stopped", "stopped", "failed")
ERROR_LOG = "error.log"
MAX_STEP_POINTS = 400


class JobLimitError(Exception):
    """A user already has as many runs queued or running as a shared app allows."""


class _Stopped(Exception):
    """Raised from a progress callback to abandon feature extraction (it resumes from its cache later)."""


class StepHistory:
    """Per-step loss parts, bounded: when full, every other point is dropped and the stride doubles."""

    def __init__(self, capacity: int = MAX_STEP_POINTS) -> None:
        self.capacity = capacity
        self.stride = 1
        self.points: list[dict[str, float]] = []

    def add(self, info: StepInfo) -> None:
        if info.step % self.stride:
            return
        self.points.append({"step": info.step, "epoch": info.epoch, "loss": info.loss, **info.parts})
        if len(self.points) >= self.capacity:
            self.points = self.points[::2]
            self.stride *= 2


@dataclass(eq=False)
class Job:
    """One submitted run (or sweep, when ``plan`` is set), updated by the worker thread."""

    id: str
    owner: str
    config: RunConfig
    plan: SweepPlan | None = None
    made_by: str = ""  # the user name written into the run folder (a shared app's user; empty locally)
    status: str = "queued"
    position: int = 0  # place in the queue (1 = next), 0 once it left the queue
    epoch: int = 0
    progress: float = 0.0  # fraction in [0, 1] of the current phase (features, then training)
    message: str = "waiting in the queue"
    error: str = ""
    run_dir: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # test and best-validation metrics at the end
    submitted: float = field(default_factory=time.time)
    _steps: StepHistory = field(default_factory=StepHistory, repr=False)
    _epochs: list[dict[str, float]] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _cancel: Callable[[], None] = field(default=lambda: None, repr=False)  # set by the manager
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def epochs(self) -> int:
        return self.config.epochs

    @property
    def kind(self) -> str:
        """The run's stage, or "sweep"."""
        return "sweep" if self.plan is not None else self.config.stage

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the run after its current step; a queued job is cancelled and never starts."""
        self._stop.set()
        self._cancel()

    def steps(self) -> list[dict[str, float]]:
        """A copy of the downsampled per-step history: step, epoch, loss and each loss part."""
        with self._lock:
            return list(self._steps.points)

    def epoch_metrics(self) -> list[dict[str, float]]:
        """A copy of the per-epoch validation metrics (with ``epoch``)."""
        with self._lock:
            return list(self._epochs)

    def _record_step(self, info: StepInfo) -> None:
        with self._lock:
            self._steps.add(info)
        self.epoch = info.epoch
        self.progress = (info.epoch - 1) / self.epochs
        self.message = f"epoch {info.epoch} of {self.epochs} · step {info.step} · loss {info.loss:.4f}"

    def _record_epoch(self, info: EpochInfo) -> None:
        with self._lock:
            self._epochs.append({"epoch": info.epoch, **info.metrics})
        self.epoch = info.epoch
        self.progress = info.epoch / info.epochs
        shown = " · ".join(f"{k} {v:.4f}" for k, v in info.metrics.items())
        self.message = f"epoch {info.epoch} of {info.epochs} done in {info.seconds:.1f} s · {shown}"

    def _report(self, fraction: float, message: str) -> None:
        if self._stop.is_set():
            raise _Stopped
        self.progress = min(max(float(fraction), 0.0), 1.0)
        self.message = message


class JobManager:
    """A FIFO queue of runs served by one daemon worker thread (started on the first submit)."""

    def __init__(self, root: Path | None = None, data_provider: DataProvider | None = None) -> None:
        self.root = root
        self._data = data_provider or load_feature_data
        self._queue: deque[Job] = deque()
        self._jobs: list[Job] = []
        self._ready = threading.Condition()
        self._worker: threading.Thread | None = None

    def submit(self, config: RunConfig, owner: str, plan: SweepPlan | None = None, *, made_by: str = "",
               limit: int | None = None) -> Job:
        """Queue a run of ``config`` (or, with ``plan``, a label-budget sweep based on it) for ``owner``
        (a session id, or a shared app's user name) and return its job. ``made_by`` is recorded in the run folder;
        with ``limit``, :class:`JobLimitError` when ``owner`` already has that many runs queued or running."""
        job = Job(id=uuid.uuid4().hex[:10], owner=owner, config=config, plan=plan, made_by=made_by)
        job._cancel = lambda: self._cancel(job)
        with self._ready:
            active = sum(1 for other in self._jobs if other.owner == owner and other.active)
            if limit is not None and active >= limit:
                raise JobLimitError(
                    f"{active} of your runs are queued or running and this app allows {limit} per user: "
                    "wait for one to finish, or stop one"
                )
            self._jobs.append(job)
            self._queue.append(job)
            self._renumber()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name="geocsp-jobs", daemon=True)
                self._worker.start()
            self._ready.notify()
        return job

    def _cancel(self, job: Job) -> None:
        with self._ready:
            if job in self._queue:
                self._queue.remove(job)
                job.position, job.status, job.message = 0, "stopped", "cancelled before it started"
                self._renumber()

    def jobs(self, owner: str) -> list[Job]:
        """The jobs ``owner`` submitted, newest first (other owners' jobs are never listed)."""
        with self._ready:
            return [job for job in reversed(self._jobs) if job.owner == owner]

    def active_jobs(self) -> list[Job]:
        """Every owner's queued and running jobs, oldest first (for an admin)."""
        with self._ready:
            return [job for job in self._jobs if job.active]

    def stop(self, job_id: str, user: str, admin: bool = False) -> Job:
        """Stop the job ``job_id`` for ``user``: their own, or anyone's for an ``admin``; :class:`PermissionError`
        otherwise, and :class:`KeyError` for an unknown job."""
        with self._ready:
            job = next((job for job in self._jobs if job.id == job_id), None)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        if job.owner != user and not admin:
            raise PermissionError(f"the run {job_id} was started by someone else: only they or an admin may stop it")
        job.stop()
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """``owner``'s job with this id, or None."""
        return next((job for job in self.jobs(owner) if job.id == job_id), None)

    def join(self, job: Job, timeout: float | None = None) -> bool:
        """Wait until ``job`` has finished; False when ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while job.active:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _renumber(self) -> None:
        for position, queued in enumerate(self._queue, start=1):
            queued.position = position

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                job = self._queue.popleft()
                job.position, job.status, job.message = 0, "running", "starting"
                self._renumber()
            self._run(job)

    def _run(self, job: Job) -> None:
        """Train one job to its end; every failure becomes ``status == "failed"`` with a one-line message."""
        try:
            job.run_dir = new_run_dir(job.kind, self.root)
            (job.run_dir / "config.yaml").write_text(job.config.to_yaml())
            if job.made_by:
                atomic_write_json(job.run_dir / ORIGIN_FILE, {"made_by": job.made_by, "submitted": job.submitted})
            job.message = "loading the dataset and its image features"
            data = self._data(job.config.data, job._report)
            if job.plan is not None:
                started = time.perf_counter()
                label_budget_sweep(job.config, job.plan, job.run_dir, data=data, progress=job._report)
                job.progress, job.message = 1.0, f"sweep done in {time.perf_counter() - started:.0f} s"
                job.status = "completed"
                return
            summary = run(
                job.config, job.run_dir, data=data, stop=job._stop, on_step=job._record_step, on_epoch=job._record_epoch
            )
        except _Stopped:
            job.status, job.message = "stopped", "stopped before it finished (a sweep between its jobs, a run during feature extraction)"
            _write_failure(job, None)
        except Exception as error:  # noqa: BLE001 — a run must never take the worker (or the app) down
            job.error = one_line(error)
            job.status, job.message = "failed", "failed"
            _write_failure(job, error)
        else:
            job.metrics = json.loads((summary.run_dir / "metrics.json").read_text())
            job.progress = 1.0
            job.message = f"{summary.status.replace('_', ' ')} after {len(summary.fit.history)} epoch(s)"
            job.status = summary.status


def one_line(error: BaseException) -> str:
    """A one-line, user-facing description of ``error`` (its first line; the type when it says nothing)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if first else type(error).__name__


def _write_failure(job: Job, error: BaseException | None) -> None:
    """Record a run that ended without run outputs: metrics.json with its status, and the traceback."""
    if job.run_dir is None:
        return
    if error is not None:
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        (job.run_dir / ERROR_LOG).write_text(trace)
    if not (job.run_dir / "metrics.json").exists():
        atomic_write_json(job.run_dir / "metrics.json", {"status": job.status, "stage": job.kind, "error": job.error})


def sweep_plan(
    encodings: Iterable[str], ratios: Iterable[float], n_seeds: int, pretrain_epochs: int, finetune_steps: int, workers: int
) -> SweepPlan:
    """A checked :class:`SweepPlan` (seeds 0 … n_seeds - 1); :class:`ConfigError` names a bad field."""
    encodings, ratios = tuple(encodings), tuple(sorted(ratios))
    unknown = [name for name in encodings if name not in ENCODINGS]
    problems = {
        "sweep.encodings": "pick at least one" if not encodings else f"unknown {unknown}" if unknown else "",
        "sweep.ratios": "pick ratios in (0, 1]" if not ratios or not all(0 < r <= 1 for r in ratios) else "",
        "sweep.seeds": "must be >= 1" if n_seeds < 1 else "",
        "sweep.pretrain_epochs": "must be >= 1" if pretrain_epochs < 1 else "",
        "sweep.finetune_steps": "must be >= 1" if finetune_steps < 1 else "",
        "sweep.workers": "must be >= 1" if workers < 1 else "",
    }
    for key, problem in problems.items():
        if problem:
            raise ConfigError(f"{key}: {problem}")
    return SweepPlan(encodings, ratios, tuple(range(n_seeds)), pretrain_epochs, finetune_steps, workers=workers)


_MANAGER: JobManager | None = None
_MANAGER_LOCK = threading.Lock()


def job_manager() -> JobManager:
    """The process-wide manager (runs under :func:`core.train.records.runs_root`)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = JobManager()
        return _MANAGER


def pretrained_runs_for(runs: Iterable[RunRecord], location: dict[str, Any]) -> list[RunRecord]:
    """Pre-training runs with a best checkpoint whose location encoder config equals ``location``."""
    return [r for r in runs if r.stage == "pretrain" and r.has_checkpoint() and r.config.get("location") == location]
