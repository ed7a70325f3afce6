"""End to end, as a new user: a folder in each real dataset layout → ``python -m core.image extract`` →
``python -m core pretrain`` on it → the app's Overview form registers it → Browse shows its samples.

Each layout holds :data:`PLACES` (nine located images over the world, three classes), one truncated
JPEG (extraction skips it, training leaves it out and the run card lists it; the photo folder
leaves it out at load) and the layout's own oddities (challenge-era fMoW JSONs without GPS joined
with a separate ground-truth folder, both products, object boxes; iNat2018's official archive
layout with ``categories.json``; GeoImageNet ``-1000`` rows; a ``;``-separated, BOM-prefixed CSV
with aliased headers, ``\\`` paths, EXIF-style times and a bad row; photos with GPS time).
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from core.data.loaders import DATASET_FORMATS, load_user_dataset
from core.image.crops import CropOptions
from core.image.features import extract_features
from geovis import app_state
from tests.app.apptest import APP, ok
from tests.app.test_app import tiny_dataset
from tests.app.test_browse import BROWSE, by_label, click, details, metric, register, shown
from tests.data.fixtures import (
    gps_ifd,
    jpeg_with_gps_bytes,
    noise_jpeg_bytes,
    photo_bytes,
    truncated_jpeg_bytes,
    write_file,
    write_fmow_ground_truth,
    write_fmow_site,
    write_geoimagenet,
    write_inat2018,
)

PROJECT = Path(__file__).resolve().parents[1]
ENCODER = "small_cnn"

#: (lon, lat, class) of the located images of every layout, spread so that a split can be made.
PLACES = [
    (-84.43, 33.64, "airport"), (139.78, 35.55, "airport"), (-0.16, 51.54, "zoo"),
    (151.21, -33.87, "wind_farm"), (2.35, 48.86, "zoo"), (-58.38, -34.60, "wind_farm"),
    (18.42, -33.92, "airport"), (-99.13, 19.43, "zoo"), (77.21, 28.61, "wind_farm"),
]
#: The place a Browse click checks, and its class.
CLICKED = PLACES[2]
INAT_NAMES = {1: "airport", 2: "zoo", 3: "wind_farm"}
#: How far the photos' camera clocks (local time) are ahead of their GPS (UTC) time.
LOCAL_CLOCK = timedelta(hours=9)


@dataclass(frozen=True)
class Layout:
    """One dataset layout: how to write it under the data root, how a user names it, what to expect."""

    fmt: str
    path: str
    write: Callable[[Path], None]
    options: dict[str, str] = field(default_factory=dict)
    bad_image: str = ""  # the truncated file, as the dataset names it
    skipped_by: str = "extraction"  # or "load": the loader leaves it out (and lists it in problems)
    timed: bool = True  # the layout records when each image was taken (in UTC)
    spaced_classes: bool = False  # class folders spell spaces as _ (GeoImageNet): shown with spaces
    crop_context: str = "fmow"  # context around object boxes, given to extraction and to training

    def class_name(self, name: str) -> str:
        """How the app shows the class :data:`PLACES` calls ``name``."""
        return name.replace("_", " ") if self.spaced_classes else name

    @property
    def spec(self) -> str:
        return f"{self.fmt}:{self.path}"


def _time(n: int) -> datetime:
    return datetime(2021, 1, 1, 9) + timedelta(days=40 * n)


def write_fmow(root: Path) -> None:
    """Challenge-era train JSONs (GPS stripped), both products, boxes; the ground truth in its own folder."""
    sites = [(category, n, lon, lat, [f"{_time(n):%Y-%m-%dT%H:%M:%SZ}"]) for n, (lon, lat, category) in enumerate(PLACES)]
    for category, n, lon, lat, timestamps in sites:
        write_fmow_site(root / "fmow", "train", category, n, lon, lat, timestamps, gps=False)
    write_fmow_ground_truth(root / "fmow-gt", "train", sites)
    for category, n, *_ in sites:  # textured pixels, so that the box crop and the whole image differ
        write_file(root / f"fmow/train/{category}/{category}_{n}/{category}_{n}_0_rgb.jpg", noise_jpeg_bytes((48, 32), seed=n))
    write_file(root / "fmow/train/zoo/zoo_4/zoo_4_0_rgb.jpg", truncated_jpeg_bytes())


def write_inat(root: Path) -> None:
    """The official archive layout, split ``val``: obfuscated names + categories.json, inat2018_locations/."""
    ids = {name: number for number, name in INAT_NAMES.items()}
    images = [
        (200 + n, f"train_val2018/Life/{ids[c]}/{n}.jpg", ids[c], lat, lon, f"{_time(n):%Y-%m-%d %H:%M:%S}+00:00")
        for n, (lon, lat, c) in enumerate(PLACES)
    ]
    images.append((299, "train_val2018/Life/2/unknown.jpg", 2, None, None, None))  # no location, as in the real file
    write_inat2018(root / "inat", "val", images=images, categories=INAT_NAMES)
    write_file(root / "inat/train_val2018/Life/2/4.jpg", truncated_jpeg_bytes())


def write_geoimagenet_layout(root: Path) -> None:
    """The downloader's output, a -1000 (no location) row among them."""
    photos = [(c, 1000 + n, f"{lat:.6f}", f"{lon:.6f}", "", "", "", "") for n, (lon, lat, c) in enumerate(PLACES)]
    photos.append(("zoo", 1999, -1000.0, -1000.0, "", "", "", ""))
    write_geoimagenet(root / "gin", photos)
    write_file(root / "gin/imagenet_images/zoo/1004.jpg", truncated_jpeg_bytes())


def write_tolerant_csv(root: Path) -> None:
    """``;``, a UTF-8 BOM, aliased headers in odd case, Windows paths, EXIF-style times, one bad row."""
    lines = ["Latitude;LNG;Category;FileName;DateTime"]
    for n, (lon, lat, c) in enumerate(PLACES):
        lines.append(f"{lat};{lon};{c};pics\\{c}\\{n}.jpg;{_time(n):%Y:%m:%d %H:%M:%S}")
        if n != 4:
            write_file(root / "csv" / "pics" / c / f"{n}.jpg", photo_bytes())
    lines.append("north;2.0;zoo;pics\\zoo\\4.jpg;")
    (root / "csv").mkdir(exist_ok=True)
    (root / "csv" / "photos.csv").write_bytes(codecs.BOM_UTF8 + "\r\n".join(lines).encode())
    write_file(root / "csv/pics/zoo/4.jpg", truncated_jpeg_bytes())


def write_photo_folder(root: Path) -> None:
    """Geotagged JPEGs, class = sub-folder, camera local time plus GPS (UTC) time; one truncated."""
    for n, (lon, lat, c) in enumerate(PLACES):
        if n != 4:
            write_file(root / "photos" / c / f"{n}.jpg", jpeg_with_gps_bytes(lat, lon, fix_time=_time(n), capture_time=_time(n) + LOCAL_CLOCK))
    write_file(root / "photos/zoo/4.jpg", truncated_jpeg_bytes(gps=gps_ifd(PLACES[4][1], PLACES[4][0])))


LAYOUTS = {
    "fmow": Layout("fmow", "fmow", write_fmow, {"ground_truth": "fmow-gt"}, "train/zoo/zoo_4/zoo_4_0_rgb.jpg", crop_context="0.5"),
    "inat2018": Layout("inat2018", "inat", write_inat, {"split": "val"}, "train_val2018/Life/2/4.jpg"),
    "geoimagenet": Layout("geoimagenet", "gin", write_geoimagenet_layout, {}, "imagenet_images/zoo/1004.jpg", timed=False, spaced_classes=True),
    "geo_csv": Layout("geo_csv", "csv/photos.csv", write_tolerant_csv, {"on_bad_rows": "skip"}, "pics/zoo/4.jpg"),
    "photo_folder": Layout("photo_folder", "photos", write_photo_folder, {}, "zoo/4.jpg", skipped_by="load"),
}


@pytest.fixture
def user_env(tmp_path, monkeypatch) -> dict[str, str]:
    """A fresh data root, feature cache and runs folder, for this process and its subprocesses; the app's
    embedded default dataset (shown before the user registers one) is a tiny one."""
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(40))
    env = {
        "GEOCSP_DATA_ROOT": str(tmp_path / "data"),
        "GEOCSP_CACHE": str(tmp_path / "cache"),
        "GEOCSP_RUNS": str(tmp_path / "runs"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "data").mkdir()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield {**os.environ, **env, "OMP_NUM_THREADS": "1"}
    st.cache_resource.clear()
    st.cache_data.clear()


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run ``python -m <args>`` in the project as a user would; its stdout (failing with its stderr)."""
    done = subprocess.run([sys.executable, "-m", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def cache_entries(env: dict[str, str]) -> set[str]:
    return {path.name for path in (Path(env["GEOCSP_CACHE"]) / "features").glob("*.npy")}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS)
def test_a_real_layout_goes_through_extraction_pretraining_and_browse(layout: Layout, user_env, built_assets, tmp_path):
    root = Path(user_env["GEOCSP_DATA_ROOT"])
    layout.write(root)
    dataset = load_user_dataset(layout.fmt, layout.path, **layout.options)
    located = int(dataset.has_location.sum())
    expected_located = len(PLACES) - (layout.skipped_by == "load")
    assert located == expected_located, dataset.problems
    if layout.skipped_by == "load":
        assert any(layout.bad_image in problem for problem in dataset.problems), dataset.problems

    # 1. Extraction on the command line, as docs/features.md shows it.
    options = [f"--option={key}={value}" for key, value in layout.options.items()]
    options.append(f"--crop-context={layout.crop_context}")
    printed = run_cli(user_env, "core.image", "extract", "--encoder", ENCODER, "--dataset", layout.spec, "--workers", "0", *options)
    extracted = cache_entries(user_env)
    assert len(extracted) == 1, extracted
    sidecar = json.loads((Path(user_env["GEOCSP_CACHE"]) / "features" / extracted.pop()).with_suffix(".json").read_text())
    assert sidecar["complete"] and sidecar["rows"] == len(dataset)
    assert sidecar["identity"]["crop"] == CropOptions.parse(layout.crop_context).key()
    skipped = [bad["image"] for bad in sidecar["skipped"]]
    if layout.skipped_by == "extraction":
        assert skipped == [layout.bad_image]
        assert "1 image(s) skipped" in printed and layout.bad_image in printed
    else:
        assert skipped == []

    # 2. A tiny pre-training run on the same dataset reads those features (no second extraction).
    run_dir = tmp_path / "run"
    overrides = [f"data.dataset={layout.spec}", f"data.image_encoder={ENCODER}", f"data.crop_context={layout.crop_context}"]
    overrides += ["epochs=1", "batch_size=4"]
    overrides += [f"data.dataset_options.{key}={value}" for key, value in layout.options.items()]
    run_cli(user_env, "core", "pretrain", "--run-dir", str(run_dir), *[arg for o in overrides for arg in ("--set", o)])
    assert len(cache_entries(user_env)) == 1, "training extracted features again instead of reading the CLI's"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and np.isfinite(metrics["test_loss"])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["data"]["dataset_options"] == layout.options
    card = (run_dir / "run_card.md").read_text()
    assert f"`{layout.spec}`" in card and "split:" in card
    if layout.skipped_by == "extraction":
        assert "1 image(s) skipped" in card and Path(layout.bad_image).name in card

    # 3. The Overview form registers it (with its options); Browse shows its samples.
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    ok(by_label(at.selectbox, "Format").set_value(layout.fmt).run())
    for name, value in layout.options.items():
        widgets = at.selectbox if name in DATASET_FORMATS[layout.fmt].option_choices else at.text_input
        by_label(widgets, name.replace("_", " ").capitalize()).set_value(value)
    register(at, layout.fmt, layout.path)
    assert not at.error, [e.value for e in at.error]
    ok(at.switch_page(BROWSE).run())
    assert shown(at) == located and metric(at, "Drawn as") == "markers"
    assert len(at.get("component_instance")) == 1, "the map is drawn"
    assert sorted(by_label(at.multiselect, "Classes").options) == sorted({layout.class_name(c) for *_, c in PLACES})
    assert bool(at.slider) == layout.timed, "a date filter where the images have times"
    click(at, lat=CLICKED[1], lng=CLICKED[0])
    shown_details = details(at)
    assert shown_details["Class"] == layout.class_name(CLICKED[2])
    assert shown_details.get("Timestamp") == (f"{_time(PLACES.index(CLICKED)):%Y-%m-%dT%H:%M:%S}+00:00" if layout.timed else None)


def test_fmow_features_are_the_object_box_crops(user_env):
    """The features extraction caches for fMoW encode each record's box with context, not the whole image."""
    write_fmow(Path(user_env["GEOCSP_DATA_ROOT"]))
    dataset = load_user_dataset("fmow", "fmow", ground_truth="fmow-gt")
    assert np.isfinite(dataset.records[["crop_x", "crop_y", "crop_w", "crop_h"]].to_numpy()).all()
    boxed = extract_features(dataset, ENCODER, workers=0)
    centred = extract_features(dataset, ENCODER, workers=0, crop=CropOptions(use_box=False))
    good = [row for row in range(len(dataset)) if np.abs(boxed[row]).sum() > 0]
    assert len(good) == len(dataset) - 1
    assert not np.allclose(boxed[good], centred[good])
