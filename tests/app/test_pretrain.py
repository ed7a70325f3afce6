"""The Pre-train page in AppTest: every picker renders, a short run is launched, joined and shown, bad values
give a message (never an exception), and finished runs can be compared."""


import pytest
from streamlit.testing.v1 import AppTest

from core.image.registry import list_image_encoders
from core.location import ENCODINGS, NETWORKS
from core.objectives import PRETRAINING_OBJECTIVES
from core.train.device import available_devices
from core.train.precision import PRECISIONS
from core.workflows import jobs
from geovis import app_state
from geovis.markdown_text import escape_markdown
from tests.app.test_app import tiny_dataset
from tests.data.fixtures import write_fmow_tree
from tests.workflows.test_jobs import tiny_data  # noqa: F401 — a fixture
from tests.app.apptest import APP, ok

PAGE = "app_pages/pretrain.py"


@pytest.fixture
def manager(tiny_data, tmp_path, monkeypatch):  # noqa: F811
    """A fresh job manager training on tiny real data, writing runs under a temporary GEOCSP_RUNS."""
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(app_state, "load_default_dataset", lambda progress=None: tiny_dataset(50))
    fresh = jobs.JobManager(data_provider=lambda data_config, progress: tiny_data)
    monkeypatch.setattr(jobs, "_MANAGER", fresh)
    return fresh


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("number_input", "text_input", "checkbox") for w in at.get(kind)}


def open_pretrain() -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    return ok(at.switch_page(PAGE).run())


def tiny_run_settings(at: AppTest, epochs: int = 2) -> AppTest:
    at.selectbox(key="pt_image_encoder").set_value("small_cnn")
    ok(at.selectbox(key="pt_encoding").set_value("theory").run())
    at.number_input(key="pt_enc_theory_num_scales").set_value(4)
    at.number_input(key="pt_net_fcnet_hidden_dim").set_value(32)
    at.number_input(key="pt_epochs").set_value(epochs)
    at.number_input(key="pt_batch_size").set_value(64)
    return ok(at.run())


def test_the_page_renders_every_picker(manager):
    at = open_pretrain()
    assert not at.error and "Pre-train" in at.title[0].value
    assert at.selectbox(key="pt_image_encoder").options == [spec.name for spec in list_image_encoders()]
    assert at.selectbox(key="pt_encoding").options == list(ENCODINGS)
    assert at.selectbox(key="pt_objective").options == list(PRETRAINING_OBJECTIVES)
    assert at.selectbox(key="pt_sampler").options
    assert at.selectbox(key="pt_device").options == available_devices() and at.selectbox(key="pt_device").value == "auto"
    assert at.selectbox(key="pt_precision").options == list(PRECISIONS)
    for name, spec in ENCODINGS.items():
        ok(at.selectbox(key="pt_encoding").set_value(name).run())
        assert {f"pt_enc_{name}_{param}" for param in spec.params} <= widget_keys(at)
    ok(at.selectbox(key="pt_encoding").set_value("theory").run())
    for name, spec in NETWORKS.items():
        ok(at.selectbox(key="pt_network_theory").set_value(name).run())
        assert {f"pt_net_{name}_{param}" for param in spec.params} <= widget_keys(at)
    assert not at.error
    ok(at.selectbox(key="pt_sampler").set_value("near").run())
    assert at.number_input(key="pt_radius").value == 500.0
    for objective in PRETRAINING_OBJECTIVES:
        ok(at.selectbox(key="pt_objective").set_value(objective).run())
    ok(at.radio(key="pt_stage").set_value("finetune").run())
    assert at.selectbox(key="pt_init_from").options == ["scratch (no pre-training)"]
    ok(at.radio(key="pt_stage").set_value("image_classifier").run())
    assert not at.error and "No run started" in at.info[0].value


def test_a_short_run_is_launched_joined_and_shown_then_compared(manager):
    at = tiny_run_settings(open_pretrain())
    ok(at.selectbox(key="pt_device").set_value("cpu").run())
    ok(at.button(key="run_start").click().run())
    assert not at.error
    [job] = manager.jobs(at.session_state["geocsp_owner"])
    assert manager.join(job, timeout=120) and job.status == "completed", job.error
    assert "trained on cpu (train.device=cpu, precision fp32)" in (job.run_dir / "run_card.md").read_text()
    ok(at.run())
    assert any(job.run_dir.name in h.value and "completed" in h.value for h in at.subheader)
    assert any("test_retrieval_top1" in str(frame.value.index.tolist()) for frame in at.dataframe)
    assert any(job.run_dir.name in e.label for e in at.expander)
    assert any(f"# Run {job.run_dir.name}" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 2, "loss parts and validation metrics"

    at.radio(key="pt_stage").set_value("finetune").run()
    assert at.selectbox(key="pt_init_from").options == ["scratch (no pre-training)", job.run_dir.name]
    ok(at.radio(key="pt_stage").set_value("pretrain").run())
    ok(at.multiselect(key="pt_compare").set_value([job.run_dir.name]).run())
    assert at.selectbox(key="pt_compare_metric").options == ["val_loss", "val_retrieval_top1"]
    assert list(at.dataframe[-1].value.columns) == [job.run_dir.name]
    assert len(at.get("plotly_chart")) >= 1


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [("pt_epochs", 0, "epochs"), ("pt_enc_multires_degree", 0, "degree"), ("pt_lr", -1.0, "optim.lr")],
)
def test_a_bad_value_shows_an_error_naming_the_field(manager, key, value, named):
    at = open_pretrain()
    at.number_input(key=key).set_value(value)
    ok(at.button(key="run_start").click().run())
    assert at.error and escape_markdown(named) in at.error[0].value and "Traceback" not in at.error[0].value
    assert manager.jobs(at.session_state["geocsp_owner"]) == []


def test_a_bad_list_value_shows_an_error(manager):
    at = open_pretrain()
    ok(at.selectbox(key="pt_encoding").set_value("geoclip").run())
    at.text_input(key="pt_enc_geoclip_sigmas").set_value("[1, oops")
    ok(at.button(key="run_start").click().run())
    assert at.error and "sigmas" in at.error[0].value


def test_a_sweep_is_launched_and_its_table_and_plot_shown(manager):
    at = tiny_run_settings(open_pretrain())
    at.multiselect(key="pt_sweep_encodings").set_value(["wrap"])
    at.multiselect(key="pt_sweep_ratios").set_value([1.0])
    for key, value in (("pt_sweep_seeds", 1), ("pt_sweep_epochs", 1), ("pt_sweep_steps", 5)):
        at.number_input(key=key).set_value(value)
    ok(at.button(key="sweep_start").click().run())
    [job] = manager.jobs(at.session_state["geocsp_owner"])
    assert job.kind == "sweep" and manager.join(job, timeout=120) and job.status == "completed", job.error
    ok(at.run())
    assert sum("CSP gain" in m.value for m in at.markdown) == 2, "in the live panel and in the sweep list"
    assert len(at.image) == 2

    at.multiselect(key="pt_sweep_encodings").set_value([])
    ok(at.button(key="sweep_start").click().run())
    assert at.error and "sweep.encodings" in at.error[0].value


def test_a_run_on_a_registered_dataset_carries_its_loader_options(manager, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOCSP_DATA_ROOT", str(tmp_path / "data"))
    write_fmow_tree(tmp_path / "data" / "fmow", "val")
    at = ok(AppTest.from_file(APP, default_timeout=60).run())
    next(s for s in at.selectbox if s.label == "Format").set_value("fmow")
    ok(at.run())
    next(t for t in at.text_input if t.label == "Path").set_value("fmow")
    at.text_input(key="option_fmow_split").set_value("val")
    ok(next(b for b in at.button if b.label == "Load dataset").click().run())
    assert not at.error and at.header[0].value == "Active dataset: fMoW-rgb val"
    at = ok(tiny_run_settings(ok(at.switch_page(PAGE).run())))
    ok(at.button(key="run_start").click().run())
    [job] = manager.jobs(at.session_state["geocsp_owner"])
    assert job.config.data.dataset == "fmow:fmow" and job.config.data.dataset_options == {"split": "val", "product": "rgb"}
    job.stop()
    assert manager.join(job, timeout=120), "no run is left training when the test ends"


def test_the_form_keeps_its_settings_while_another_page_is_shown(manager):
    at = ok(tiny_run_settings(open_pretrain(), epochs=3).selectbox(key="pt_encoding").set_value("sphereM+").run())
    at = ok(ok(at.switch_page("app_pages/overview.py").run()).switch_page(PAGE).run())
    assert at.number_input(key="pt_epochs").value == 3 and at.selectbox(key="pt_image_encoder").value == "small_cnn"
    assert at.selectbox(key="pt_encoding").value == "sphereM+"
