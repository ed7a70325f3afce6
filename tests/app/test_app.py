"""The Streamlit app in AppTest: it runs without exception and the Overview shows the active dataset."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.data.base import GeoImageDataset, records_from_columns
from core.files import atomic_write_json
from core.train.config import RunConfig
from geovis import app_state, assets, imports
from tests.app.apptest import APP, ok

CLASSES = ["Water Bodies", "Evergreen Needleleaf Forests", "Grasslands", "Croplands"]


def tiny_dataset(n: int, seed: int = 0) -> GeoImageDataset:
    """A default-dataset look-alike: n places with labels and a split column."""
    rng = np.random.default_rng(seed)
    records = records_from_columns(
        image=[None] * n,
        lon=rng.uniform(-180, 180, n),
        lat=rng.uniform(-60, 70, n),
        label=rng.integers(1, len(CLASSES), n),
        timestamp=[None] * n,
        site_id=[f"site{i:06d}" for i in range(n)],
    )
    records["split"] = rng.choice(["train", "val", "test"], n, p=[0.7, 0.1, 0.2])
    return GeoImageDataset("tiny", "/tmp", records, CLASSES)


def run_app(timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def components(at: AppTest) -> list:
    return at.get("component_instance")


@pytest.mark.parametrize("n", [50, 3000], ids=["markers", "hexagons"])
def test_overview_shows_dataset_size_classes_splits_and_map(monkeypatch, n):
    dataset = tiny_dataset(n)
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: dataset)
    at = run_app()
    assert not at.error
    shown = metrics(at)
    assert shown["Places"] == f"{n:,}"
    assert shown["Classes present"] == f"3 of {len(CLASSES)}"
    sizes = dataset.records["split"].value_counts()
    assert [label for label in shown if label.endswith("split")] == ["train split", "val split", "test split"]
    assert shown["val split"] == f"{sizes['val']:,}"
    assert len(at.get("plotly_chart")) == 2
    assert len(components(at)) == 1, "the folium map is drawn"

    at.radio[0].set_value("outlines").run()
    at.radio[1].set_value("count").run()
    assert not at.exception and not at.error and len(components(at)) == 1


def test_progress_callback_is_accepted(monkeypatch):
    def load(progress=None):
        for step in range(3):
            progress(step / 2, f"step {step}")
        return tiny_dataset(20)

    monkeypatch.setattr(app_state, "load_default_dataset", load)
    at = run_app()
    assert metrics(at)["Places"] == "20" and not at.error


def test_a_failing_dataset_shows_an_error_not_a_traceback(monkeypatch):
    def broken(progress=None):
        raise OSError("disk on fire")

    monkeypatch.setattr(app_state, "load_default_dataset", broken)
    at = run_app()
    assert len(at.error) == 1 and "disk on fire" in at.error[0].value and "make setup" in at.error[0].value
    assert not at.metric


def test_missing_map_assets_show_an_error_and_the_rest_of_the_page(monkeypatch, tmp_path):
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(30))
    monkeypatch.setattr(assets, "BLUEMARBLE_PATH", tmp_path / "absent.jpg")
    at = run_app()
    assert len(at.error) == 1 and "python -m geovis.assets" in at.error[0].value
    assert metrics(at)["Places"] == "30" and len(at.get("plotly_chart")) == 2


def test_overview_of_the_real_default_dataset():
    """The embedded default dataset (built by setup; built here on first use otherwise)."""
    at = run_app(timeout=300)
    assert not at.error
    shown = metrics(at)
    n = int(shown["Places"].replace(",", ""))
    assert n >= 1000
    assert shown["Classes present"].endswith("of 17")
    assert sum(int(v.replace(",", "")) for k, v in shown.items() if k.endswith("split")) == n
    assert any("Active dataset" in header.value for header in at.header)
    assert len(components(at)) == 1


def test_overview_lists_the_trained_models_or_says_there_are_none(monkeypatch, tmp_path):
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(50))
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path))
    at = run_app()
    assert any(i.value.startswith("No trained model yet") for i in at.info)
    run_dir = tmp_path / "20260101-000000-finetune-abcdef"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(RunConfig.from_dict({"stage": "finetune", "location": {"encoding": "sphereM+"}}).to_yaml())
    atomic_write_json(run_dir / "metrics.json", {"status": "completed", "stage": "finetune", "test_top1": 0.61})
    at = ok(at.run())
    [table] = [frame.value for frame in at.dataframe if "test top-1" in frame.value.columns]
    assert table.loc[run_dir.name, "encoding"] == "sphereM+" and table.loc[run_dir.name, "test top-1"] == 0.61


def test_the_first_page_needs_no_torch_and_the_model_pages_are_warmed_up_after_it():
    script = (
        "import sys\n"
        "from geovis import app_state, imports\n"
        "imports.import_script_dependencies('app_pages/overview.py')\n"
        "assert 'torch' not in sys.modules, 'what Overview imports pulls in torch'\n"
        "app_state.warm_up()\n"
        "assert all(name in sys.modules for name in app_state.WARM_UP_MODULES + ('torch',))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(APP).parent, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "PYTHONPATH": str(Path(APP).parent)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_app_imports_the_chosen_pages_modules_through_the_import_lock(monkeypatch):
    scripts = []

    def recording(script):
        scripts.append(Path(script).relative_to(Path(APP).parent).as_posix())
        return imports.import_modules(imports.script_imports(str(script)))

    monkeypatch.setattr(imports, "import_script_dependencies", recording)
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    ok(at.switch_page("app_pages/compare.py").run())
    assert scripts == ["app_pages/overview.py", "app_pages/compare.py"]
