"""core.workflows.encoder_inspector: the kernel is 1 at its centre (bare encodings, a trained run, GeoCLIP), the effective
resolution matches the closed forms of xyz and spherical harmonics, the antimeridian and the poles are crossed
like any other place, and the world raster, principal components and load errors behave."""

import shutil

import numpy as np
import pytest
from numpy.polynomial import legendre

from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.workflows import encoder_inspector as ei
from core.coords import EARTH_RADIUS_KM, CoordinateError, destination_lonlat, haversine_km
from core.hexgrid import cells_of
from core.location import geoclip_status
from core.train.checkpoint import MODEL_FILE
from core.train.records import BEST
from tests.workflows.test_predict import tiny_runs  # noqa: F401 — a fixture

SH10 = ei.InspectedEncoder("bare", "spherical_harmonics", (("degree", 10),))
SH40 = ei.InspectedEncoder("bare", "spherical_harmonics", (("degree", 40),))
#: Ordinary places, the poles and both sides of the antimeridian.
CENTRES = [(2.35, 48.85), (-70.0, -33.0), (0.0, 90.0), (45.0, -90.0), (179.9, 10.0), (-179.95, -60.0)]


def harmonics_half_distance_km(degree: int) -> float:
    """Where the bare harmonics kernel Σ_l (2l+1) P_l(cos γ) / L² (addition theorem) first falls to ½, in km."""
    coefficients = np.array([2 * l + 1 for l in range(degree)], dtype=np.float64) / degree**2
    gammas = np.linspace(0.0, np.pi, 200_001)
    values = legendre.legval(np.cos(gammas), coefficients)
    return float(gammas[np.argmax(values < 0.5)] * EARTH_RADIUS_KM)


@pytest.mark.parametrize("name", ei.BARE_ENCODINGS)
def test_the_kernel_of_every_bare_encoding_is_one_at_its_centre(name):
    encoder = ei.load_inspected(ei.InspectedEncoder("bare", name))
    for centre in CENTRES:
        assert ei.similarity_kernel(encoder, centre, [centre])[0] == pytest.approx(1.0, abs=1e-6), centre


def test_the_kernel_of_a_trained_run_is_one_at_its_centre_and_its_world_grid_is_the_runs(tiny_runs):  # noqa: F811
    choice = ei.InspectedEncoder("run", str(tiny_runs.location))
    encoder = ei.load_inspected(choice)
    values = ei.similarity_kernel(encoder, CENTRES[0], [CENTRES[0], (150.0, -30.0)])
    assert values[0] == pytest.approx(1.0, abs=1e-6) and values[1] < 1.0 - 1e-4
    world = ei.world_embeddings(choice, 0, lambda: encoder)
    np.testing.assert_array_equal(world, em.embed_cells(encoder, em.region_cells(0)))


@pytest.mark.skipif(not geoclip_status()[0], reason=geoclip_status()[1])
def test_the_kernel_of_geoclip_is_one_at_its_centre_and_its_world_grid_comes_from_the_disk_cache(tmp_path, monkeypatch):
    choice = ei.InspectedEncoder("pretrained", "geoclip")
    encoder = ei.load_inspected(choice)
    for centre in CENTRES:
        assert ei.similarity_kernel(encoder, centre, [centre])[0] == pytest.approx(1.0, abs=1e-6), centre
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path))
    first = ei.world_embeddings(choice, 0, lambda: encoder)
    assert len(list((tmp_path / "embedding_map").glob("geoclip-res0-*.npy"))) == 1, "written to GeoCLIP's grid cache"

    def no_load():
        raise AssertionError("the cached grid needs no encoder")

    np.testing.assert_array_equal(ei.world_embeddings(choice, 0, no_load), first)


def test_xyz_falls_to_one_half_at_sixty_degrees_everywhere():
    """cos(e(x₀), e(x)) of unit vectors is the cosine of the angle between the points: ½ at 60°."""
    profile = ei.effective_resolution(ei.load_inspected(ei.InspectedEncoder("bare", "xyz")), lon=-120.0)
    for km in profile.km.values():
        np.testing.assert_allclose(km, EARTH_RADIUS_KM * np.pi / 3, rtol=1e-3)


def test_spherical_harmonics_resolution_is_finite_isotropic_and_finer_with_more_degrees():
    coarse, fine = (ei.effective_resolution(ei.load_inspected(choice), lon=33.0) for choice in (SH10, SH40))
    assert list(coarse.km) == list(ei.DIRECTIONS) and len(coarse.latitudes) == len(ei.PROFILE_LATITUDES)
    for profile, degree in ((coarse, 10), (fine, 40)):
        for km in profile.km.values():  # rotation invariant: the same at every latitude, in every direction
            assert np.isfinite(km).all()
            np.testing.assert_allclose(km, harmonics_half_distance_km(degree), rtol=2e-3)
    for direction in ei.DIRECTIONS:
        assert (fine.km[direction] < coarse.km[direction] / 3).all(), "L = 40 resolves ~4× finer than L = 10"


def test_point_resolution_reveals_the_anisotropy_of_an_encoding_of_raw_degrees():
    """Space2Vec theory treats a degree of longitude like a degree of latitude: at 70° N its east–west kernel
    is about cos(70°) as wide in km as at the equator (502 km there, found by sampling every kilometre)."""
    encoder = ei.load_inspected(ei.InspectedEncoder("bare", "theory"))
    at_equator, at_70 = ei.point_resolution(encoder, (10.0, 0.0)), ei.point_resolution(encoder, (10.0, 70.0))
    assert at_equator["east–west"] == pytest.approx(502.0, abs=2.0)
    assert at_70["east–west"] == pytest.approx(np.cos(np.radians(70.0)) * at_equator["east–west"], rel=0.25)
    assert at_70["east–west"] < at_70["north–south"] / 3, "anisotropic: much narrower east–west"


def test_a_similarity_that_never_falls_to_one_half_has_no_resolution():
    """One grid scale of 360°: sin/cos(v/360) of lon and lat turn by at most 0.5 rad, so the similarity stays
    above cos(0.5) > ½ everywhere; with 1° the same encoding falls to ½ within a few hundred km."""
    wide, narrow = (
        ei.load_inspected(ei.InspectedEncoder("bare", "grid", (("num_scales", 1), ("r_min", scale), ("r_max", scale))))
        for scale in (360.0, 1.0)
    )
    origins, azimuths = [(0.0, 0.0), (0.0, 0.0), (60.0, 45.0)], [90.0, 0.0, 225.0]
    assert np.isnan(ei.half_similarity_distance(wide, origins, azimuths)).all()
    assert (ei.half_similarity_distance(narrow, origins, azimuths) < 500.0).all()


def test_the_kernel_is_continuous_across_the_antimeridian():
    """From 179.9° E, the neighbour 0.2° east (at -179.9°) is as similar as the one 0.2° west, for an encoding
    that is continuous on the sphere; an encoding of raw degrees (Space2Vec theory) shows its seam there."""
    for lat in (0.0, 45.0, -70.0):
        centre, neighbours = (179.9, lat), [(-179.9, lat), (179.7, lat)]
        east, west = ei.similarity_kernel(ei.load_inspected(SH40), centre, neighbours)
        assert east == pytest.approx(west, abs=1e-4) and east < 1.0 - 1e-4
        seam_east, seam_west = ei.similarity_kernel(ei.load_inspected(ei.InspectedEncoder("bare", "theory")), centre, neighbours)
        assert seam_east < 0.5 < seam_west


def test_the_zoomed_kernel_around_the_antimeridian_and_a_pole_is_symmetric_and_true_to_distance():
    encoder = ei.load_inspected(SH40)
    for centre in ((179.9, 10.0), (-30.0, 90.0), (100.0, -89.5)):
        grid, values = ei.local_kernel(encoder, centre, radius_km=800.0, size=21)
        assert values.shape == (21, 21) and values[10, 10] == pytest.approx(1.0, abs=1e-6)
        lon, lat = grid.lonlat[..., 0], grid.lonlat[..., 1]
        assert (lon >= -180).all() and (lon < 180).all() and (np.abs(lat) <= 90).all()
        east, north = np.meshgrid(grid.east_km, grid.north_km)
        np.testing.assert_allclose(haversine_km(np.asarray(centre), grid.lonlat), np.hypot(east, north), atol=1e-6)
        np.testing.assert_allclose(values, values[:, ::-1], atol=1e-4)  # east–west mirror
        np.testing.assert_allclose(values, values.T, atol=1e-4)  # north–east swap: isotropic
    assert (lon := ei.local_grid((179.9, 10.0), 800.0, 21).lonlat[..., 0]).max() > 179 and lon.min() < -172, "both sides"
    with pytest.raises(ValueError, match="radius_km"):
        ei.local_grid((0.0, 0.0), 0.0, 21)


def test_destination_keeps_distance_and_goes_over_the_pole():
    origin = np.array([10.0, 80.0])
    for azimuth in (0.0, 37.0, 90.0, 200.0):
        for distance in (1.0, 1500.0, 9000.0):
            assert haversine_km(origin, destination_lonlat(origin, azimuth, distance)) == pytest.approx(distance, rel=1e-9)
    over = destination_lonlat(origin, 0.0, 2 * 10 * np.pi / 180 * EARTH_RADIUS_KM)
    np.testing.assert_allclose(over, [-170.0, 80.0], atol=1e-9)
    np.testing.assert_allclose(destination_lonlat([179.0, 0.0], 90.0, 2 * np.pi / 180 * EARTH_RADIUS_KM), [-179.0, 0.0], atol=1e-9)
    with pytest.raises(CoordinateError, match="origin"):
        destination_lonlat([1.0, 2.0, 3.0], 0.0, 1.0)


def test_the_world_raster_shows_the_cell_under_each_pixel_and_joins_at_the_antimeridian():
    raster = ei.world_raster(1, 5.0)
    assert raster.cell_index.shape == (37, 73) and raster.lats[[0, -1]].tolist() == [-90.0, 90.0]
    cells = np.array(em.region_cells(1))
    rows, columns = [0, 9, 18, 36], [0, 20, 72]
    pixels = np.array([[raster.lons[j], raster.lats[i]] for i in rows for j in columns])
    assert cells[raster.cell_index[np.ix_(rows, columns)].ravel()].tolist() == cells_of(pixels, 1).tolist()
    np.testing.assert_array_equal(raster.cell_index[:, 0], raster.cell_index[:, -1])
    values = np.arange(len(cells), dtype=float)
    np.testing.assert_array_equal(raster.paint(values), values[raster.cell_index])


def test_principal_components_explain_decreasing_variance_with_a_fixed_sign():
    world = ei.world_embeddings(SH10, 1, lambda: ei.load_inspected(SH10))
    components = ei.principal_components(world, 5)
    assert components.scores.shape == (842, 5) and (np.diff(components.explained) <= 1e-12).all()
    assert (components.scores.max(axis=0) >= -components.scores.min(axis=0)).all(), "largest score positive"
    np.testing.assert_array_equal(ei.principal_components(world, 5).scores, components.scores)
    assert ei.principal_components(world[:, :3], 10).scores.shape == (842, 3), "capped at the embedding size"


def test_typed_points_wrap_longitudes_and_refuse_bad_latitudes():
    assert ei.check_point(190.0, -90.0) == (-170.0, -90.0)
    with pytest.raises(CoordinateError, match=r"latitude 95° is outside \[-90, 90\]"):
        ei.check_point(0.0, 95.0)
    with pytest.raises(CoordinateError, match="finite"):
        ei.check_point(float("nan"), 0.0)


def test_encoders_that_cannot_be_built_or_read_say_why(tiny_runs, tmp_path):  # noqa: F811
    with pytest.raises(encoders.EncoderLoadError, match=r"encoding_params.degree: must be in 1\.\.60"):
        ei.load_inspected(ei.InspectedEncoder("bare", "spherical_harmonics", (("degree", 0),)))
    with pytest.raises(encoders.EncoderLoadError, match="not a bare encoding"):
        ei.load_inspected(ei.InspectedEncoder("bare", "geoclip"))
    with pytest.raises(encoders.EncoderLoadError, match="has 16,640 features; the inspector takes at most 4,096"):
        ei.load_inspected(ei.InspectedEncoder("bare", "dfs", (("num_scales", 64),)))
    sh60 = ei.InspectedEncoder("bare", "spherical_harmonics", (("degree", 60),))
    with pytest.raises(ValueError, match="resolution 3 would take 565 MB for 3,600 features"):
        ei.world_embeddings(sh60, 3, lambda: ei.load_inspected(sh60))
    damaged = shutil.copytree(tiny_runs.location, tmp_path / "damaged")
    (damaged / "checkpoints" / BEST / MODEL_FILE).write_bytes(b"not safetensors")
    with pytest.raises(encoders.EncoderLoadError, match="unreadable"):
        ei.load_inspected(ei.InspectedEncoder("run", str(damaged)))
