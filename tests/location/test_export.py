"""Exported model folders: every registry encoding, GeoCLIP and a trained run export; the TorchScript file in
a fresh interpreter that can import torch but not GeoCSP, and the ONNX file in ONNX Runtime with torch
blocked, give the library's embeddings to 1e-5; load_encoder reads the folder back and refuses a missing or
tampered file and a newer format; export refuses to overwrite other files; the CLI."""

import json
import shutil

import numpy as np
import pytest
import torch

from core.__main__ import main
from core.location import load_encoder
from core.location.export import ExportError, export_encoder
from core.location.export.equivalence import check_portable, equivalence_points, library_embeddings
from core.location.loading import EncoderLoadError
from core.location.model_folder import CARD_FILE, CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE
from core.location.registry import ENCODINGS
from core.train.config import RunConfig
from core.train.runner import run
from tests.workflows.test_predict import tiny_feature_data

TOLERANCE = 1e-5
ONNX_REFUSED = {"dfs": "Cannot view a tensor"}
"""Encodings ONNX export refuses, with the reason its message gives (torch.export cannot functionalise dfs's
products written through a strided view)."""
FULL_POINTS, FEW_POINTS = 100_000, 2_000


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A one-epoch pre-training run with the default location encoder (multires, FCNet, concat)."""
    _, data = tiny_feature_data(tmp_path_factory.getbasetemp() / "predict-tiny-data")
    config = RunConfig.from_dict({"stage": "pretrain", "epochs": 1, "batch_size": 64, "data": {"image_encoder": "small_cnn"}})
    return run(config, tmp_path_factory.mktemp("export-runs") / "20250101-000000-pretrain-export", data=data).run_dir


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """{name: (source, model folder)}: the trained run, GeoCLIP and every registry encoding (bare), exported."""
    root = tmp_path_factory.mktemp("exports")
    sources = {"run": str(trained_run), "geoclip": "geoclip", **{f"encoding-{name}": f"encoding:{name}" for name in ENCODINGS}}
    folders = {}
    for name, source in sources.items():
        encoding = source.removeprefix("encoding:")
        formats = ("torchscript",) if encoding in ONNX_REFUSED else ("onnx", "torchscript")
        folders[name] = (source, export_encoder(source, root / name, formats))
    return folders


def _cases(exported, runtime):
    cases = {}
    for name, (source, folder) in exported.items():
        if runtime == "onnx" and source.removeprefix("encoding:") in ONNX_REFUSED:
            continue
        count = FULL_POINTS if name in ("run", "encoding-spherical_harmonics") else FEW_POINTS
        cases[name] = (load_encoder(folder), folder, equivalence_points(count))  # == the source's: see the round-trip test
    return cases


@pytest.mark.parametrize("runtime", ["torchscript", "onnx"])
def test_graphs_give_the_library_embeddings_without_geocsp(exported, runtime, tmp_path):
    cases = _cases(exported, runtime)
    report = check_portable(cases, runtime, tmp_path / "outside-the-project")
    assert not report["geocsp_importable"], "the check must run where GeoCSP cannot be imported"
    assert report["torch_importable"] == (runtime == "torchscript"), "ONNX Runtime runs with torch blocked"
    for name, result in report["cases"].items():
        encoder, _, points = cases[name]
        assert result["shape"] == [len(points), encoder.embedding_dim], name
        assert result["max_abs_diff"] <= TOLERANCE and result["one_row_max_abs_diff"] <= TOLERANCE, (name, result)
    assert set(report["cases"]) == set(cases)


def test_onnx_refuses_dfs_naming_why(tmp_path):
    with pytest.raises(ExportError, match="ONNX cannot express the dfs encoder: Cannot view a tensor.*--formats torchscript"):
        export_encoder("encoding:dfs", tmp_path / "dfs", ("onnx",))
    assert not (tmp_path / "dfs").exists() and not list(tmp_path.iterdir()), "a refused export leaves nothing behind"


@pytest.mark.parametrize("name", ["run", "geoclip", "encoding-rbf"])
def test_the_folder_loads_back_as_the_encoder_it_came_from(exported, name):
    source, folder = exported[name]
    loaded, original = load_encoder(folder), load_encoder(source)
    assert not loaded.training and loaded.config == original.config
    points = equivalence_points(500)
    np.testing.assert_array_equal(library_embeddings(loaded, points), library_embeddings(original, points))


def test_the_folder_describes_itself(exported, trained_run):
    folder = exported["run"][1]
    assert sorted(path.name for path in folder.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, "encoder.onnx", "encoder.pt"])
    original = load_encoder(trained_run)
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["format_version"] == FORMAT_VERSION and config["source"]["kind"] == "run"
    assert config["encoder"]["encoding"]["name"] == "multires" and config["encoder"]["embedding"] == "concat"
    assert config["sizes"]["embedding_dim"] == original.embedding_dim == config["output"]["shape"][1]
    assert config["input"]["order"] == ["lon", "lat"] and config["input"]["units"] == "degrees"
    assert set(config["files"]) == {WEIGHTS_FILE, CARD_FILE, "encoder.onnx", "encoder.pt"}
    card = (folder / CARD_FILE).read_text()
    for text in ("## How it was trained", "seed 0", "Köppen-Geiger", "onnxruntime.InferenceSession", "torch.jit.load", "python -m core probe"):
        assert text in card, text


def test_geoclip_card_states_its_licence_and_origin(exported):
    card = (exported["geoclip"][1] / CARD_FILE).read_text()
    assert "MIT licence" in card and "NeurIPS 2023" in card


def _copy(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "copy")


def test_a_missing_or_tampered_file_or_a_newer_format_is_refused_naming_it(exported, tmp_path):
    folder = _copy(exported["encoding-wrap"][1], tmp_path)
    (folder / "encoder.onnx").unlink()
    with pytest.raises(EncoderLoadError, match=r"encoder\.onnx: missing"):
        load_encoder(folder)
    shutil.rmtree(folder)
    folder = _copy(exported["encoding-wrap"][1], tmp_path)
    with (folder / WEIGHTS_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(EncoderLoadError, match=r"encoder\.safetensors: checksum mismatch"):
        load_encoder(folder)
    shutil.rmtree(folder)
    folder = _copy(exported["encoding-wrap"][1], tmp_path)
    config = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**config, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(EncoderLoadError, match=rf"config\.json: format_version {FORMAT_VERSION + 1} is newer"):
        load_encoder(folder)


def test_export_refuses_a_folder_with_other_files_and_replaces_an_earlier_export(tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    with pytest.raises(ExportError, match="not empty and not an earlier GeoCSP export"):
        export_encoder("encoding:wrap", other)
    assert [path.name for path in other.iterdir()] == ["thesis.tex"]
    folder = export_encoder("encoding:wrap", tmp_path / "model", ("torchscript",))
    export_encoder("encoding:xyz", folder, ())
    assert json.loads((folder / CONFIG_FILE).read_text())["encoder"]["encoding"]["name"] == "xyz"
    assert not (folder / "encoder.pt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model", "notes"]
    (folder / "notes.txt").write_text("mine too")
    with pytest.raises(ExportError, match=r"an earlier export with other files in it \(notes.txt\)"):
        export_encoder("encoding:wrap", folder, ())
    with pytest.raises(ExportError, match="unknown export format"):
        export_encoder("encoding:wrap", tmp_path / "new", ("tflite",))


def test_cli_exports_and_says_why_it_cannot(tmp_path, capsys):
    assert main(["encoder", "export", "encoding:theory", "--out", str(tmp_path / "theory"), "--formats", "torchscript"]) == 0
    assert "written to" in capsys.readouterr().out
    assert load_encoder(tmp_path / "theory").config.encoding == "theory"
    assert main(["encoder", "export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["encoder", "export", "encoding:nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown encoding 'nope'" in capsys.readouterr().err


def test_graphs_return_nan_rows_where_the_library_refuses_and_wrap_longitudes(exported):
    source, folder = exported["encoding-tile"]
    graph = torch.jit.load(str(folder / "encoder.pt"))
    points = torch.tensor([[0.0, 95.0], [float("nan"), 0.0], [540.0, 10.0], [-180.0, 10.0], [float("inf"), 1.0]])
    with torch.no_grad():
        out = graph(points)
    assert torch.isnan(out[[0, 1, 4]]).all() and not torch.isnan(out[[2, 3]]).any()
    torch.testing.assert_close(out[2:4], load_encoder(folder).embed(torch.tensor([[180.0, 10.0], [-180.0, 10.0]])), rtol=0, atol=0)


def test_the_card_carries_the_runs_own_probe_table(trained_run, tmp_path):
    run_dir = shutil.copytree(trained_run, tmp_path / trained_run.name)
    (run_dir / "probes.md").write_text("| embedding | climate (acc.) |\n| --- | ---: |\n| run:x | 0.612 ± 0.020 |\n| lonlat | 0.401 ± 0.030 |\n")
    card = (export_encoder(run_dir, tmp_path / "model", ()) / CARD_FILE).read_text()
    assert "| run:x | 0.612 ± 0.020 |" in card and "| lonlat | 0.401 ± 0.030 |" in card and "python -m core probe" not in card
