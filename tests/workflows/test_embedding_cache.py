"""GeoCLIP's grid embeddings on disk: computed once per machine, read back, re-keyed when the weights change,
rebuilt (never unpickled) when the file is damaged. Resolution 1 (842 cells) keeps GeoCLIP fast."""

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.workflows import embedding_cache
from core.workflows import embedding_map as em
from core.location import loading as encoders
from core.location import geoclip_status
from core.location.pretrained import geoclip_weights_path
from core.regions import REGIONS

GEOCLIP = encoders.EncoderChoice("pretrained", "geoclip")
RESOLUTION = 1

pytestmark = pytest.mark.skipif(not geoclip_status()[0], reason=geoclip_status()[1])


class Loads:
    """The real GeoCLIP encoder, counting how often it was asked for."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self):
        self.count += 1
        return encoders.load_choice(GEOCLIP)


@pytest.fixture(scope="module")
def world() -> np.ndarray:
    """GeoCLIP's embeddings of the world at RESOLUTION, computed without any cache."""
    return em.embed_cells(encoders.load_choice(GEOCLIP), em.region_cells(RESOLUTION))


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    """An empty cache root, and a copy of GeoCLIP's weights as the file the cache key is read from."""
    monkeypatch.setenv("GEOCSP_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "location_encoder_weights.pth"
    shutil.copyfile(geoclip_weights_path(), copy)
    monkeypatch.setattr(embedding_cache, "geoclip_weights_path", lambda: copy)
    return copy


def test_the_world_is_embedded_once_then_read_from_disk_for_it_and_any_region(weights, world):
    loads = Loads()
    cells, first = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
    path = embedding_cache.cache_path(GEOCLIP, RESOLUTION)
    assert loads.count == 1 and cells == em.region_cells(RESOLUTION) and path.is_file()
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), first)
    np.testing.assert_allclose(first, world, atol=1e-6)

    cells, again = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
    np.testing.assert_array_equal(again, first)
    europe_cells, europe = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, REGIONS["Europe"], loads)
    assert loads.count == 1, "the encoder is not even loaded once the world is on disk"
    assert 0 < len(europe_cells) < len(cells) and europe_cells == em.region_cells(RESOLUTION, REGIONS["Europe"])
    np.testing.assert_array_equal(europe, first[[cells.index(cell) for cell in europe_cells]])


def test_a_region_asked_for_first_is_embedded_alone_and_not_stored(weights, world):
    loads = Loads()
    cells, europe = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, REGIONS["Europe"], loads)
    assert loads.count == 1 and not embedding_cache.cache_path(GEOCLIP, RESOLUTION).exists()
    world_cells = em.region_cells(RESOLUTION)
    np.testing.assert_allclose(europe, world[[world_cells.index(cell) for cell in cells]], atol=1e-6)


def test_other_weights_make_a_new_key_and_replace_the_old_file(weights):
    loads = Loads()
    embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
    old = embedding_cache.cache_path(GEOCLIP, RESOLUTION)
    with weights.open("ab") as file:  # the weights change (an update of the wheel): the key must follow
        file.write(b"\0")
    new = embedding_cache.cache_path(GEOCLIP, RESOLUTION)
    assert new != old and new.parent == old.parent and f"res{RESOLUTION}-" in new.name
    embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
    assert loads.count == 2 and new.is_file() and not old.exists()
    assert embedding_cache.cache_path(GEOCLIP, 0) != embedding_cache.cache_path(GEOCLIP, RESOLUTION)
    assert embedding_cache.cache_path(encoders.EncoderChoice("untrained", "geoclip"), RESOLUTION) is None


class _Exploit:
    """Unpickling this would create ``marker``: a cache file must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _damages(path: Path, world: np.ndarray, marker: Path) -> dict[str, Callable[[], None]]:
    def save(array) -> None:
        with path.open("wb") as file:
            np.save(file, array, allow_pickle=True)

    return {
        "truncated": lambda: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        "garbage": lambda: path.write_bytes(b"not an npy file" * 100),
        "empty": lambda: path.write_bytes(b""),
        "pickled objects": lambda: save(np.array([_Exploit(marker)], dtype=object)),
        "NaN rows": lambda: save(np.full_like(world, np.nan)),
        "not unit rows": lambda: save(world * 2.0),
        "too few rows": lambda: save(world[:-1]),
        "float64": lambda: save(world.astype(np.float64)),
    }


def test_a_damaged_cache_file_is_rebuilt_and_never_unpickled(weights, world, tmp_path):
    loads = Loads()
    _, first = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
    path = embedding_cache.cache_path(GEOCLIP, RESOLUTION)
    marker = tmp_path / "unpickled"
    damages = _damages(path, first, marker)
    for name, damage in damages.items():
        damage()
        _, rebuilt = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, loads)
        np.testing.assert_array_equal(rebuilt, first, err_msg=name)
        np.testing.assert_array_equal(np.load(path, allow_pickle=False), first, err_msg=f"{name}: the file is whole again")
    assert loads.count == 1 + len(damages) and not marker.exists()
    assert pickle.loads(pickle.dumps(_Exploit(marker))) is None and marker.exists(), "the exploit itself works"


def test_an_unwritable_cache_only_costs_time(weights, world, tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("GEOCSP_CACHE", str(blocked))
    cells, embeddings = embedding_cache.grid_embeddings(GEOCLIP, RESOLUTION, None, Loads())
    np.testing.assert_allclose(embeddings, world, atol=1e-6)
