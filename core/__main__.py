"""GeoCSP command line: ``python -m core pretrain|finetune|image-classifier|moco|evaluate|sweep|geolocate|export|probe|encoder|embed|access|starter``
(``geocsp ...`` once the package is installed).

Runs go to ``runs/`` (``GEOCSP_RUNS``) unless ``--run-dir`` says otherwise. Under ``torchrun`` the
training commands run data-parallel (DDP), and a group that ``torchrun --max-restarts`` restarts
resumes in the same run folder (:func:`core.train.distributed.torchrun_launch`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from core.access.cli import add_access_parser, run_access
from core.embed.cli import add_embed_parser, run_embed
from core.gis.cli import add_export_parser, run_export
from core.location.loading import EncoderLoadError
from core.location.params import ConfigError
from core.train.checkpoint import CheckpointError
from core.ranks import PeerLost
from core.train.loop import TrainingDiverged

STAGES = {"pretrain": "pretrain", "finetune": "finetune", "image-classifier": "image_classifier", "moco": "moco"}


def _csv(kind):
    return lambda text: tuple(kind(part) for part in text.split(",") if part)


def build_parser(prog: str = "python -m core") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (*STAGES, "sweep"):
        stage = sub.add_parser(command, help=f"run {command}")
        stage.add_argument("--config", type=Path, help="YAML run config (defaults when omitted)")
        stage.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config value (dotted keys)")
        if command == "sweep":
            from core.workflows.sweep import SweepPlan

            plan = SweepPlan()
            stage.add_argument("--encodings", type=_csv(str), default=plan.encodings)
            stage.add_argument("--ratios", type=_csv(float), default=plan.ratios)
            stage.add_argument("--seeds", type=_csv(int), default=plan.seeds)
            stage.add_argument("--pretrain-epochs", type=int, default=plan.pretrain_epochs)
            stage.add_argument("--finetune-steps", type=int, default=plan.finetune_steps)
            stage.add_argument("--workers", type=int, default=plan.workers)
            stage.add_argument("--out", type=Path, default=None, help="output folder (default: a new run folder)")
        else:
            stage.add_argument("--run-dir", type=Path, default=None)
            stage.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    evaluate = sub.add_parser("evaluate", help="test metrics of a location classifier, an image classifier and their fusions")
    evaluate.add_argument("--location-run", type=Path, required=True)
    evaluate.add_argument("--image-run", type=Path, required=True)
    geolocate = sub.add_parser("geolocate", help="geolocation errors of a CSP pre-training run on held-out images, with baselines")
    geolocate.add_argument("--run", type=Path, required=True, help="a CSP pre-training run folder")
    geolocate.add_argument("--split", choices=("train", "val", "test"), default="test")
    geolocate.add_argument("--resolution", type=int, default=3, help="H3 grid resolution (0-7; above 3 refined coarse to fine)")
    geolocate.add_argument("--coarse-resolution", type=int, default=None, help="resolution scored whole before refining (0-3)")
    geolocate.add_argument("--tau", type=float, default=None, help="temperature (default: the run's calibrated one, else its trained one)")
    geolocate.add_argument("--calibrate", action="store_true", help="first fit the temperatures on the val split and store them in the run")
    geolocate.add_argument("--uncalibrated", action="store_true", help="use the run's trained temperature, not its calibrated ones")
    geolocate.add_argument("--prior", action="store_true", help="multiply P(x | I) by the training-density prior")
    geolocate.add_argument("--no-gallery", action="store_true", help="skip the training-locations gallery")
    geolocate.add_argument("--limit", type=int, default=None, help="evaluate a seeded random subset of this many images")
    geolocate.add_argument("--seed", type=int, default=0)
    geolocate.add_argument("--out", type=Path, default=None, help="folder for geolocation-<split>.md/.csv (default: the run folder)")
    add_export_parser(sub)
    _add_probe_parser(sub)
    _add_encoder_parser(sub)
    add_embed_parser(sub)
    add_access_parser(sub)
    starter = sub.add_parser("starter", help="build (or check) the starter runs the app uses on first open (core.workflows.starter)")
    starter.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config value of every starter run")
    starter.add_argument("--runs", type=Path, default=None, help="runs folder (default: runs/ or GEOCSP_RUNS)")
    return parser


def _add_probe_parser(sub) -> None:
    from core.probes import DEFAULT_FOLDS, EMBEDDED_TASKS, RUN_LAYERS
    from core.probes.tasks import DEFAULT_POINTS

    probe = sub.add_parser(
        "probe", help="linear probes of location embeddings on downstream tasks (spatially blocked CV)",
        description="Embeddings: lonlat, xyz, geoclip, encoding:NAME[:k=v,...] (a bare positional encoding), "
        f"untrained:NAME, run:PATH[:{'|'.join(RUN_LAYERS)}], model:PATH[:LAYER] (an exported model folder). Tasks: {', '.join(EMBEDDED_TASKS)}, or a CSV of lon,lat,target.",
    )
    probe.add_argument("--embedding", action="append", default=[], help="an embedding to probe (repeat; default: baselines, GeoCLIP, the newest pretrain run and its recipe untrained)")
    probe.add_argument("--task", action="append", default=[], help="an embedded task or a CSV file (repeat; default: all embedded tasks)")
    probe.add_argument("--points", type=int, default=DEFAULT_POINTS, help="points drawn for each embedded task")
    probe.add_argument("--seed", type=int, default=0, help="seed of the embedded tasks' points and of the folds")
    probe.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    probe.add_argument("--block-resolution", type=int, default=None, help="H3 resolution of the CV blocks (default: from the point density)")
    probe.add_argument("--kind", choices=("regression", "classification"), default=None, help="task kind of CSV tasks (default: inferred)")
    probe.add_argument("--target-column", default=None, help="target column of CSV tasks (default: 'target' or the only other column)")
    probe.add_argument("--no-knn", action="store_true", help="skip the k-nearest-neighbour reference")
    probe.add_argument("--out", type=Path, default=None, help="folder for probes.md/.csv (default: a new folder under runs/)")
    probe.add_argument(
        "--residuals", choices=("gpkg", "parquet", "geojson", "none"), default="gpkg",
        help="also write each task's points with every embedding's out-of-fold prediction and residual, "
        "as residuals-<task>.<format> (EPSG:4326) beside the table",
    )


def _add_encoder_parser(sub) -> None:
    from core.location.loading import ENCODER_SOURCES

    encoder = sub.add_parser("encoder", help="take a location encoder out of GeoCSP (export)")
    actions = encoder.add_subparsers(dest="encoder_command", required=True)
    export = actions.add_parser(
        "export", help="write a self-describing model folder (weights, config, card, ONNX, TorchScript)",
        description=f"SOURCE is {ENCODER_SOURCES}. The folder loads back with core.location.load_encoder, "
        "or without GeoCSP in torch (encoder.pt) or ONNX Runtime (encoder.onnx).",
    )
    export.add_argument("source", metavar="SOURCE", help="the encoder to export, e.g. runs/starter-pretrain, geoclip, encoding:theory")
    export.add_argument("--out", type=Path, required=True, help="the model folder to write (new, empty, or an earlier export)")
    export.add_argument("--formats", type=_csv(str), default=("onnx", "torchscript"), help="graph files to write: onnx,torchscript (default both; '' for none)")


def _encoder(args) -> int:
    from core.location.export import export_encoder
    from core.location.model_folder import CONFIG_FILE

    out = export_encoder(args.source, args.out, args.formats)
    for name, entry in json.loads((out / CONFIG_FILE).read_text())["files"].items():
        print(f"{out / name}  {entry['bytes']:>12,} bytes  sha256 {entry['sha256'][:16]}…")
    print(f"written to {out}")
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m core") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "geolocate":
            return _geolocate(args)
        if args.command == "export":
            return run_export(args)
        if args.command == "probe":
            return _probe(args)
        if args.command == "starter":
            return _starter(args)
        if args.command == "encoder":
            return _encoder(args)
        if args.command == "embed":
            return run_embed(args)
        if args.command == "access":
            return run_access(args)
        from core.train.config import load_config

        config = load_config(args.config, args.overrides)
        if args.command == "sweep":
            return _sweep(config, args)
        config = load_config(args.config, [*args.overrides, f"stage={STAGES[args.command]}"])
        return _train(config, args)
    except (ConfigError, CheckpointError, TrainingDiverged, PeerLost, EncoderLoadError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _train(config, args) -> int:
    from core.ranks import init_from_environment
    from core.train.distributed import torchrun_launch
    from core.train.runner import run

    rank, _ = init_from_environment()
    run_dir, resume = args.run_dir, args.resume
    launch = torchrun_launch(config, run_dir)
    if launch is not None:
        run_dir, resume = launch.run_dir, resume or launch.resume
        if rank == 0 and launch.resume:
            print(f"resuming {run_dir} from its last checkpoint", file=sys.stderr, flush=True)
    with tqdm(total=config.epochs, desc=config.stage, unit="epoch", disable=rank != 0) as bar:

        def on_epoch(info) -> None:
            bar.update(info.epoch - bar.n)  # a resumed run starts past its first epochs
            bar.set_postfix({k: f"{v:.4f}" for k, v in info.metrics.items()})

        summary = run(config, run_dir, on_epoch=on_epoch, resume=resume)
    if rank == 0:
        print(json.dumps({"run_dir": str(summary.run_dir), "status": summary.status, **summary.test_metrics}, indent=2))
    return 0


def _sweep(config, args) -> int:
    from core.workflows.sweep import SweepPlan, label_budget_sweep
    from core.train.runner import new_run_dir

    plan = SweepPlan(
        encodings=args.encodings,
        ratios=args.ratios,
        seeds=args.seeds,
        pretrain_epochs=args.pretrain_epochs,
        finetune_steps=args.finetune_steps,
        workers=args.workers,
    )
    out = args.out or new_run_dir("sweep")
    with tqdm(total=100, desc="sweep", unit="%") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(100 * fraction) - bar.n)

        label_budget_sweep(config, plan, out, progress=progress)
    print((out / "sweep.md").read_text())
    print(f"written to {out}")
    return 0


def _starter(args) -> int:
    from core.workflows.starter import build_starters

    bars: list[tqdm] = []
    verbs = {"skip": "up to date, skipped", "resume": "resuming from its last checkpoint", "train": "training"}

    def on_stage(run, action) -> None:
        for bar in bars:
            bar.close()
        bars.clear()
        print(f"{run.spec.name}: {verbs[action]} ({run.run_dir})", flush=True)
        if action != "skip":
            bars.append(tqdm(total=run.config.epochs, desc=run.spec.name, unit="epoch"))

    def on_epoch(run, info) -> None:
        bars[0].update(info.epoch - bars[0].n)
        bars[0].set_postfix({k: f"{v:.4f}" for k, v in info.metrics.items()})

    try:
        build_starters(args.runs, args.overrides, on_stage=on_stage, on_epoch=on_epoch)
    finally:
        for bar in bars:
            bar.close()
    print("starter runs ready: Predict, Compare and the Embedding map use them by default")
    return 0


def _evaluate(args) -> int:
    from core.evaluate import predict_logits
    from core.fusion import fusion_report
    from core.train.runner import load_trained_run

    location_config, location_model, data = load_trained_run(args.location_run)
    image_config, image_model, _ = load_trained_run(args.image_run, data)
    if location_config.stage != "finetune" or image_config.stage != "image_classifier":
        raise ValueError("--location-run must be a finetune run and --image-run an image-classifier run")
    splits = ("val", "test")
    indices = {split: data.labelled_indices(split) for split in splits}
    report = fusion_report(
        {s: predict_logits(image_model, data.features[indices[s]]) for s in splits},
        {s: predict_logits(location_model, data.lonlat[indices[s]]) for s in splits},
        {s: data.labels[indices[s]] for s in splits},
        data.class_prior(data.label_budget(location_config.finetune.label_ratio)),
    )
    print(json.dumps(report, indent=2))
    return 0


def _geolocate(args) -> int:
    from core.workflows.geolocate import Geolocator, GridSpec
    from core.workflows.geolocation_eval import evaluate_geolocation

    geolocator = Geolocator(args.run)
    grid = GridSpec(args.resolution, args.coarse_resolution)
    if args.calibrate:
        from core.workflows.geolocation_calibration import calibrate, save_calibration

        geolocator.calibration = calibrate(geolocator)
        print(geolocator.calibration.summary())
        print(f"written to {save_calibration(args.run, geolocator.calibration)}")
    tau = geolocator.tau if args.uncalibrated and args.tau is None else args.tau
    with tqdm(total=100, desc="geolocate", unit="%") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(100 * fraction) - bar.n)

        report = evaluate_geolocation(
            geolocator, args.split, grid, tau, args.prior, not args.no_gallery, args.limit, args.seed, progress=progress
        )
    markdown, csv = report.write(args.out or args.run)
    print(report.to_markdown())
    print(f"written to {markdown} and {csv}")
    return 0


def _probe(args) -> int:
    from core.probes import EMBEDDED_TASKS, default_embeddings, load_task, run_probes
    from core.train.runner import new_run_dir

    tasks = [
        load_task(name, args.points, args.seed, args.kind, args.target_column) for name in (args.task or list(EMBEDDED_TASKS))
    ]
    embeddings = args.embedding or default_embeddings()
    with tqdm(total=100, desc="probe", unit="%") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(100 * fraction) - bar.n)

        report = run_probes(
            embeddings, tasks, n_folds=args.folds, block_resolution=args.block_resolution, seed=args.seed,
            knn=not args.no_knn, progress=progress,
        )
    markdown, csv = report.write(args.out or new_run_dir("probes"))
    written = [markdown, csv]
    if args.residuals != "none":
        from core.gis.export import write_layer
        from core.gis.tables import probe_residuals_layer

        for task in report.tasks:
            written.append(write_layer(probe_residuals_layer(report, task), markdown.parent / f"residuals-{task}.{args.residuals}"))
    print(report.to_markdown())
    print(f"written to {', '.join(map(str, written))}")
    return 0


def run_geocsp() -> int:
    """The ``geocsp`` console script: :func:`main` under its installed name."""
    return main(prog="geocsp")


if __name__ == "__main__":
    sys.exit(main())
