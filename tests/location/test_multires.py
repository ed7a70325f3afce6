"""The multi-resolution encoding: harmonics beside a learned hash grid. Its levels span the asked scales, the
untrained grid adds nothing, the blend is continuous, a training step changes the features only near the points
it saw, and a trained run exports to ONNX and TorchScript with the library's embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.coords import EARTH_RADIUS_KM, destination_lonlat
from core.location import ConfigError, build_location_encoder
from core.location.encodings.harmonics import SphericalHarmonicsEncoding
from core.location.encodings.multires import HashGrid, level_resolutions
from core.location.export import export_encoder
from core.location.export.equivalence import check_portable, equivalence_points
from core.location.loading import load_encoder
from core.train.config import RunConfig
from core.train.runner import run
from tests.workflows.test_predict import tiny_feature_data

PARIS, SYDNEY = (2.35, 48.86), (151.21, -33.87)


def _grid_with_random_table(**params) -> HashGrid:
    grid = HashGrid(**params)
    with torch.no_grad():
        grid.table.copy_(torch.randn(grid.table.shape, generator=torch.Generator().manual_seed(0)))
    return grid


def test_levels_run_from_the_coarsest_to_the_finest_cell_edge():
    resolutions = level_resolutions(8, 1000.0, 15.0)
    edges = [2 * EARTH_RADIUS_KM / n for n in resolutions]
    assert resolutions == sorted(resolutions) and len(resolutions) == 8
    assert 900 < edges[0] <= 1000 and 14 < edges[-1] <= 15
    assert level_resolutions(1, 500.0, 500.0) == [26]


def test_untrained_encoding_is_the_harmonics_then_zeros():
    encoder = build_location_encoder({"encoding": "multires", "encoding_params": {"degree": 6, "levels": 3, "features_per_level": 4}})
    points = torch.tensor([PARIS, SYDNEY, (-180.0, 90.0), (179.9, -90.0)])
    features = encoder.features(points)
    assert features.shape == (4, 36 + 3 * 4)
    torch.testing.assert_close(features[:, :36], SphericalHarmonicsEncoding(6)(points))
    assert torch.count_nonzero(features[:, 36:]) == 0


def test_dense_levels_never_collide_and_fine_levels_hash_into_the_table():
    grid = HashGrid(levels=2, log2_table_size=12, coarsest_km=2000.0, finest_km=100.0)
    assert (grid.resolutions[0] + 1) ** 3 <= grid.table_size < (grid.resolutions[1] + 1) ** 3
    corners = torch.cartesian_prod(*[torch.arange(grid.resolutions[0] + 1)] * 3)
    rows = torch.remainder((corners * grid.strides[0, 0, 0]).sum(dim=1), grid.table_size)
    assert len(rows.unique()) == len(corners), "a dense level gives every corner its own row"


def test_the_blend_is_continuous_and_reads_detail_at_tens_of_km():
    grid = _grid_with_random_table(levels=4, features_per_level=4, coarsest_km=1000.0, finest_km=20.0)
    origin = np.array([PARIS] * 3)
    near, far = (destination_lonlat(origin, np.array([0.0, 90.0, 200.0]), np.full(3, km)) for km in (0.01, 60.0))
    with torch.no_grad():
        at = grid(torch.tensor(origin, dtype=torch.float32))
        step = (grid(torch.tensor(near, dtype=torch.float32)) - at).abs().max()
        apart = (grid(torch.tensor(far, dtype=torch.float32)) - at)[:, -4:].abs().amax(dim=1)
    assert step < 0.01, "10 m away the features barely move (no jump at cell faces)"
    assert (apart > 0.1).all(), "60 km away the finest level reads other corners"


def test_a_training_step_changes_the_features_only_near_the_points_it_saw():
    encoder = build_location_encoder({"encoding": "multires", "network": "linear", "output_dim": 8})
    optimizer = torch.optim.SGD(encoder.parameters(), lr=1.0)
    paris, sydney = torch.tensor([PARIS]), torch.tensor([SYDNEY])
    encoder(paris).square().sum().neg().backward()
    optimizer.step()
    grid = encoder.encoding.grid
    with torch.no_grad():
        assert torch.count_nonzero(grid(paris)) > 0
        assert torch.count_nonzero(grid(sydney)) == 0
        assert (grid.table.abs().sum(dim=1) > 0).sum() <= 8 * len(grid.resolutions), "one cell's corners per level"


@pytest.mark.parametrize(
    "params, key",
    [
        ({"finest_km": 2000.0}, "encoding_params.finest_km"),
        ({"log2_table_size": 30}, "encoding_params.log2_table_size"),
        ({"levels": 0}, "encoding_params.levels"),
        ({"features_per_level": 0}, "encoding_params.features_per_level"),
        ({"degree": 0}, "encoding_params.degree"),
        ({"coarsest_km": -5.0}, "encoding_params.coarsest_km"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, key):
    with pytest.raises(ConfigError, match=key):
        build_location_encoder({"encoding": "multires", "encoding_params": params})


def test_float64_path_agrees_with_float32():
    config = {"encoding": "multires", "encoding_params": {"levels": 3}}
    single, double = build_location_encoder(config), build_location_encoder({**config, "precision": "float64"})
    for encoder in (single, double):
        encoder.encoding.grid.load_state_dict(_grid_with_random_table(levels=3).state_dict())
    points = torch.tensor(equivalence_points(500))
    assert double.features(points).dtype == torch.float64
    torch.testing.assert_close(double.features(points).float(), single.features(points), atol=2e-5, rtol=1e-5)


def test_a_trained_run_exports_to_onnx_and_torchscript(tmp_path_factory, tmp_path):
    _, data = tiny_feature_data(tmp_path_factory.getbasetemp() / "predict-tiny-data")
    config = RunConfig.from_dict(
        {"stage": "pretrain", "epochs": 1, "batch_size": 64, "data": {"image_encoder": "small_cnn"},
         "location": {"encoding": "multires", "encoding_params": {"levels": 4, "log2_table_size": 12}}}
    )
    run_dir = run(config, tmp_path / "20250101-000000-pretrain-multires", data=data).run_dir
    encoder = load_encoder(run_dir)
    assert torch.count_nonzero(encoder.encoding.grid.table) > 0, "training wrote the hash tables"
    folder = export_encoder(str(run_dir), tmp_path / "export", ("onnx", "torchscript"))
    cases = {"multires": (load_encoder(folder), folder, equivalence_points(5_000))}
    for runtime in ("onnx", "torchscript"):
        result = check_portable(cases, runtime, tmp_path / f"check-{runtime}")["cases"]["multires"]
        assert result["shape"] == [5_000, encoder.embedding_dim]
        assert result["max_abs_diff"] <= 1e-5 and result["one_row_max_abs_diff"] <= 1e-5, (runtime, result)
