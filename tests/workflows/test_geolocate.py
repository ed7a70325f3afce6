"""Geolocation with a CSP dual encoder: a synthetic run whose image features encode the location exactly is
geolocated within one cell, refinement keeps every region's mass, credible regions hold the top place, the
prior and the class condition weigh P(x | I) as documented, and bad runs and settings are refused clearly."""

from dataclasses import dataclass
from pathlib import Path

import h3
import numpy as np
import pytest
import torch

from core.coords import sample_sphere, unit_vectors
from core.workflows.geolocate import (
    ClassCondition, DensityPrior, GallerySpec, Geolocation, GeolocationError, Geolocator, GridSpec, check_tau,
)
from core.hexgrid import cells_of
from core.location.encoder import LocationEncoder
from core.train.checkpoint import save_checkpoint
from core.train.config import RunConfig
from core.train.data import FeatureData
from core.train.records import BEST
from core.train.tasks import CSPModel

#: τ sharp enough that the nearest cell centre wins by a wide margin.
SHARP = 1e-3


def exact_features(lonlat: np.ndarray) -> torch.Tensor:
    """Image features that encode the location exactly: its unit vector."""
    return torch.from_numpy(unit_vectors(lonlat)).float()


def write_exact_run(run_dir: Path) -> Path:
    """A CSP pre-training run whose e(x) is x's unit vector and whose g(f) is the identity, so that
    cos(e(x), g(f)) is the cosine of the angle between x and the place the features encode."""
    config = RunConfig.from_dict({"stage": "pretrain", "location": {"encoding": "xyz", "network": "identity"}})
    model = CSPModel(LocationEncoder(config.location_config()), feature_dim=3)
    with torch.no_grad():
        model.projection.weight.copy_(torch.eye(3))
        model.projection.bias.zero_()
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config.to_yaml())
    save_checkpoint(run_dir / "checkpoints" / BEST, model, None, {}, config.to_dict())
    return run_dir


def exact_data(n: int = 400, seed: int = 0) -> FeatureData:
    """Places uniform on the sphere with exact features; every fifth one held out as test."""
    lonlat = sample_sphere(n, np.random.default_rng(seed))
    splits = np.array(["test" if i % 5 == 0 else "train" for i in range(n)])
    return FeatureData(
        torch.from_numpy(lonlat).float(), exact_features(lonlat), torch.zeros(n, dtype=torch.long), splits,
        np.full(n, np.nan), ("only",), "exact",
    )


@pytest.fixture(scope="module")
def geolocator(tmp_path_factory) -> Geolocator:
    return Geolocator(write_exact_run(tmp_path_factory.mktemp("geolocate") / "run"), data=exact_data())


POINTS = sample_sphere(12, np.random.default_rng(1))


def within_one_cell(place_cell: str, lonlat: np.ndarray) -> bool:
    """Whether ``place_cell`` is the cell holding ``lonlat`` at its resolution, or one of its neighbours."""
    true_cell = str(cells_of(lonlat[None, :], h3.get_resolution(place_cell))[0])
    return place_cell in h3.grid_disk(true_cell, 1)


@pytest.mark.parametrize("where", [GridSpec(2), GridSpec(3), GridSpec(5), GridSpec(4, coarse_resolution=1)], ids=str)
def test_features_that_encode_the_location_are_geolocated_within_one_cell(geolocator, where):
    results = geolocator.locate(exact_features(POINTS), where, tau=SHARP)
    assert len(results) == len(POINTS)
    for point, result in zip(POINTS, results):
        assert result.probs.sum() == pytest.approx(1.0) and (result.probs >= 0).all()
        best = result.top(5)
        assert h3.get_resolution(best[0].cell) == where.resolution, "the top place is at the chosen resolution"
        assert within_one_cell(best[0].cell, point), (point, best[0])
        densities = [p.probability / h3.cell_area(p.cell) for p in best]
        assert densities == sorted(densities, reverse=True)
        for mass in (0.5, 0.9):
            region = result.credible_region(mass)
            assert best[0].cell in region, "the credible region holds the top place"
        assert set(result.credible_region(0.5)) <= set(result.credible_region(0.9))
        mean = np.array(result.weighted_mean())
        assert np.degrees(np.arccos(np.clip(unit_vectors(mean) @ unit_vectors(point), -1, 1))) < 5.0


def test_the_credible_region_is_the_smallest_set_of_cells_holding_the_mass():
    cells = np.array([h3.latlng_to_cell(0.0, lon, 2) for lon in (0.0, 10.0, 20.0, 30.0)])
    areas = np.array([h3.cell_area(str(c)) for c in cells])
    result = Geolocation("grid", np.zeros((4, 2)), np.array([0.1, 0.45, 0.05, 0.4]), cells, areas, 2)
    assert list(result.credible_region(0.5)) == [cells[1], cells[3]]
    assert list(result.credible_region(0.45)) == [cells[1]]
    assert list(result.credible_region(0.9)) == [cells[1], cells[3], cells[0]]
    assert len(result.credible_region(1.0)) == 4
    assert result.credible_area_km2(0.5) == pytest.approx(areas[1] + areas[3])
    with pytest.raises(GeolocationError, match="credible mass"):
        result.credible_region(0.0)


def test_refinement_keeps_the_probability_of_every_coarse_cell(geolocator):
    features = exact_features(POINTS[:3])
    coarse = geolocator.locate(features, GridSpec(2), tau=0.05)
    refined = geolocator.locate(features, GridSpec(4, coarse_resolution=2, refine_cells=20), tau=0.05)
    for before, after in zip(coarse, refined):
        assert after.probs.sum() == pytest.approx(1.0)
        resolutions = np.array([h3.get_resolution(c) for c in after.cells])
        assert set(resolutions.tolist()) == {2, 3, 4}
        assert (resolutions == 2).sum() == len(before.cells) - 20, "20 cells split per level"
        parents = np.array([h3.cell_to_parent(c, 2) if h3.get_resolution(c) > 2 else c for c in after.cells])
        mass = {cell: 0.0 for cell in before.cells.tolist()}
        for parent, p in zip(parents.tolist(), after.probs.tolist()):
            mass[parent] += p
        np.testing.assert_allclose([mass[c] for c in before.cells.tolist()], before.probs, atol=1e-9)


def test_the_gallery_finds_the_training_place_the_features_encode(geolocator):
    data = geolocator.data
    train = data.indices("train")[:5]
    results = geolocator.locate(data.features[train], GallerySpec(3), tau=SHARP)
    for index, result in zip(train.tolist(), results):
        best = result.top(1)[0]
        assert (best.lon, best.lat) == pytest.approx(tuple(data.lonlat[index].tolist()), abs=1e-4)
        assert result.kind == "gallery" and len(result.probs) == len(data.indices("train"))
        assert best.cell == str(cells_of(data.lonlat[index][None].numpy(), 3)[0])
    with pytest.raises(GeolocationError, match="a gallery of training places already follows their density"):
        geolocator.locate(data.features[:1], GallerySpec(3), terms=[geolocator.density_prior()])


def test_the_density_prior_counts_training_places_per_cell():
    north = np.array([[10.0, 50.0], [10.1, 50.1], [10.2, 49.9]])
    prior = DensityPrior.from_lonlat(np.concatenate([north, [[-60.0, -20.0]]]), resolution=1)
    values = prior(np.array([[10.05, 50.05], [-60.0, -20.0], [120.0, 0.0]]))
    assert np.exp(values[0] - values[1]) == pytest.approx(4.0 / 2.0) and np.exp(values[1] - values[2]) == pytest.approx(2.0)


@dataclass(frozen=True)
class NorthernClassifier:
    """A location classifier with class "north" certain at the north pole and class "south" at the south pole."""

    location_run: Path = Path("north-south")
    class_names: tuple[str, ...] = ("north", "south")

    def location_logits(self, lonlat) -> torch.Tensor:
        lat = torch.tensor(np.array(lonlat)[:, 1], dtype=torch.float32) / 30.0
        return torch.stack([lat, -lat], dim=1)


def test_a_class_condition_multiplies_p_x_given_i_by_p_y_given_x(geolocator):
    features = exact_features(np.array([[0.0, 0.0]]))
    plain = geolocator.locate(features, GridSpec(1), tau=0.5)[0]
    condition = ClassCondition(NorthernClassifier(), 0)
    north = geolocator.locate(features, GridSpec(1), tau=0.5, terms=[condition])[0]
    p_north = torch.softmax(NorthernClassifier().location_logits(plain.lonlat), -1)[:, 0].double().numpy()
    expected = plain.probs * p_north
    np.testing.assert_allclose(north.probs, expected / expected.sum(), rtol=1e-4)
    assert north.weighted_mean()[1] > 5.0 > plain.weighted_mean()[1] > -5.0
    assert condition.class_name == "north"
    with pytest.raises(GeolocationError, match="class index must be in 0..1"):
        ClassCondition(NorthernClassifier(), 2)


def test_the_image_marginal_divides_each_place_by_how_well_it_matches_training_photos(geolocator):
    features = exact_features(np.array([[0.0, 0.0], [100.0, 45.0]]))
    plain = geolocator.locate(features, GridSpec(1), tau=0.5)
    normalised = geolocator.locate(features, GridSpec(1), tau=0.5, normalise=True)
    train = geolocator.data.indices("train")  # fewer than MARGINAL_IMAGES: every training photo is in the sample
    similarity = geolocator.location_embeddings(plain[0].lonlat) @ geolocator.image_embeddings(geolocator.data.features[train]).T
    z = torch.exp(similarity.double() / 0.5).mean(1).numpy()
    for before, after in zip(plain, normalised):
        expected = before.probs / z
        np.testing.assert_allclose(after.probs, expected / expected.sum(), rtol=1e-4)
    marginal = geolocator.image_marginal(0.5)
    assert marginal.key != geolocator.image_marginal(0.25).key, "Z(x) depends on τ: cached per τ"
    np.testing.assert_allclose(marginal(plain[0].lonlat[:3]), -np.log(z[:3]), rtol=1e-5)


@pytest.mark.parametrize(
    ("stage", "kind"),
    [("finetune", "a fine-tuned location classifier"), ("image_classifier", "an image classifier"), ("moco", "a MoCo image backbone")],
)
def test_runs_without_an_image_projection_cannot_geolocate_and_say_which_run_can(tmp_path, stage, kind):
    (tmp_path / "config.yaml").write_text(RunConfig.from_dict({"stage": stage}).to_yaml())
    with pytest.raises(GeolocationError) as error:
        Geolocator(tmp_path)
    message = str(error.value)
    assert kind in message and "no image projection g(f)" in message and "CSP pre-training run (stage pretrain)" in message


def test_missing_or_damaged_runs_are_refused_by_name(tmp_path):
    with pytest.raises(GeolocationError, match="nowhere is not a GeoCSP run"):
        Geolocator(tmp_path / "nowhere")
    run = write_exact_run(tmp_path / "damaged")
    (run / "checkpoints" / BEST / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(GeolocationError, match="damaged cannot be loaded"):
        Geolocator(run)


@pytest.mark.parametrize("tau", [0, -0.1, float("nan"), 1e3, "0.1", True])
def test_bad_temperatures_are_refused(geolocator, tau):
    with pytest.raises(GeolocationError, match=r"temperature τ must be a number in \[0.0001, 100\]"):
        check_tau(tau)
    with pytest.raises(GeolocationError, match="temperature"):
        geolocator.locate(exact_features(POINTS[:1]), tau=tau)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dict(resolution=8), "grid resolution must be an integer H3 resolution in 0..7, got 8"),
        (dict(resolution=-1), "grid resolution must be an integer H3 resolution in 0..7, got -1"),
        (dict(resolution=2.5), "got 2.5"),
        (dict(resolution=True), "got True"),
        (dict(resolution=5, coarse_resolution=4), "coarse resolution must be an integer H3 resolution in 0..3, got 4"),
        (dict(resolution=2, coarse_resolution=3), "must not be finer than the grid resolution"),
        (dict(refine_cells=0), "refine_cells must be a positive integer"),
    ],
)
def test_bad_grid_settings_are_refused(spec, message):
    with pytest.raises(GeolocationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GridSpec(**spec)


def test_features_of_the_wrong_size_or_with_nan_are_refused(geolocator):
    with pytest.raises(GeolocationError, match=r"image features must have shape \[N, 3\]"):
        geolocator.locate(torch.zeros(1, 128))
    with pytest.raises(GeolocationError, match="NaN"):
        geolocator.locate(torch.full((1, 3), float("nan")))


def test_the_temperature_defaults_to_the_runs(geolocator):
    assert geolocator.tau == pytest.approx(0.1)
