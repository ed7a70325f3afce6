""""Where was this taken?" in the app: a photo (Predict) or a dataset sample (Browse, through
:mod:`geovis.sample_geolocation`) geolocated by a CSP run.

The section picks a CSP pre-training run and the candidates (the H3 grid at a resolution, or the run's
training locations as a GPS gallery), τ, the density prior, the image-marginal correction (on by default, see
:class:`core.workflows.geolocate.ImageMarginal`), the kernel density of the photo's nearest training images (on by
default when the run's calibration has fitted one, see :mod:`core.workflows.geolocation_neighbours`) and — on
Predict, with the page's location model P(y | x) — a class,
then shows P(x | I) as a heatmap over H3 hexagons (probability per km², log scale, drawn
with :mod:`geovis.hex_layer`), the 90 % credible region outlined, the top-5 places with their nearest GeoNames
city and country, the run's best guess when its calibration has chosen one (the place of one of the photo's most
similar training images, re-ranked by CSP: :mod:`core.workflows.geolocation_rerank`) and, when the true position is
known, that position and the errors in km.

Geolocators are shared by all sessions (``st.cache_resource``: the location side is computed once per run);
results and map layers are cached per (image, settings). Every failure is a message in the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import folium
import h3
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from PIL import Image
from streamlit_folium import st_folium

from core.coords import haversine_km
from core.data.base import GeoImageDataset
from core.data.default_dataset import DefaultDataset
from core.workflows.geolocate import (
    GEOLOCATION_STAGE, MAX_FULL_RESOLUTION, MAX_RESOLUTION, TAU_RANGE, ClassCondition, GallerySpec, Geolocation,
    GeolocationError, Geolocator, GridSpec,
)
from core.hexgrid import cell_area_km2, cell_centers
from core.places import nearest_places
from core.workflows.predict import Photo, Predictor, usable_runs
from core.train.records import RunRecord
from core.gis.tables import heatmap_layer
from geovis import app_state, gis_widgets, maps
from geovis.assets import MissingAssetsError
from geovis.colors import sequential_colors
from geovis.hex_layer import geometries_of, hex_layer_json
from geovis.markdown_text import escape_markdown

TITLE = "Where was this taken?"
REGION_MASS = 0.9
DRAWN_MASS = 0.99
"""The heatmap draws the densest hexagons holding this share of the probability…"""
MAX_DRAWN_CELLS = 4000
"""…in as many hexagons at most: when more are needed (a model unsure of the place spreads its probability
over much of the globe), the probabilities are summed into coarser hexagons until they fit."""
DENSITY_DECADES = 3.0
"""The colour scale spans at most this many powers of ten of probability per km² below the peak."""
TOP_K = 5
CANDIDATES = {"grid": "H3 grid", "gallery": "Training locations (GPS gallery)"}
TRUE_COLOR, PLACE_COLOR, REGION_COLOR = "#ff1744", "#ffffff", "#e6007e"  # the region's magenta is not in viridis
GUESS_COLOR = "#00e5ff"


@dataclass(frozen=True)
class Settings:
    """What to geolocate with: a run folder, the candidates, τ, the prior and an optional class (index)."""

    run_dir: str
    candidates: str = "grid"
    resolution: int = MAX_FULL_RESOLUTION
    tau: float = 0.1
    prior: bool = False
    normalise: bool = True
    neighbours: bool = False
    class_index: int | None = None
    class_run: str | None = None  # the location model whose P(y | x) conditions on the class

    @property
    def where(self) -> GridSpec | GallerySpec:
        return GridSpec(self.resolution) if self.candidates == "grid" else GallerySpec(self.resolution)


@dataclass(frozen=True)
class Heatmap:
    """The layers drawn over the basemap: the hexagons' GeoJSON text, the region's outline and how much is drawn."""

    hexagons: str
    region_outline: dict
    display: Geolocation  # the distribution drawn: the result's, or summed into coarser hexagons
    drawn_cells: int
    drawn_mass: float
    drawn_resolutions: tuple[int, int]  # coarsest and finest resolution drawn


@st.cache_resource(max_entries=2, show_spinner="Loading the geolocation model…")
def _geolocator(run_dir: str) -> Geolocator:
    return Geolocator(run_dir)


def _run_label(record: RunRecord) -> str:
    data = record.config.get("data", {})
    objective = record.config.get("pretrain", {}).get("objective", "?")
    return f"{record.name} · {data.get('dataset', '?')} · {data.get('image_encoder', '?')} · {objective}"


def choose_settings(key: str, predictor: Predictor | None = None) -> tuple[Settings, Geolocator] | None:
    """The section's widgets; None (with a message in the page) while no usable CSP run exists."""
    runs = usable_runs(GEOLOCATION_STAGE)
    if not runs:
        st.info(
            "No CSP pre-training run yet. Geolocation needs one (stage **pretrain**): it trains the location encoder "
            "e(x) and the image projection g(f) into one space — fine-tuned classifiers and MoCo backbones have no "
            "image projection. Train one on the **Pre-train** page."
        )
        return None
    run_col, where_col, resolution_col, tau_col = st.columns(4)
    run = run_col.selectbox("Geolocation model (CSP pre-training run)", runs, format_func=_run_label, key=f"{key}_run")
    try:
        geolocator = _geolocator(str(run.run_dir))
    except GeolocationError as error:
        st.error(f"This run cannot geolocate: {escape_markdown(error)}")
        return None
    candidates = where_col.radio("Candidates", list(CANDIDATES), format_func=CANDIDATES.get, key=f"{key}_candidates")
    resolution = resolution_col.select_slider(
        "H3 resolution", options=list(range(MAX_RESOLUTION + 1)), value=MAX_FULL_RESOLUTION, key=f"{key}_resolution",
        help=f"Grid: every cell up to {MAX_FULL_RESOLUTION} (41 162 cells), finer ones refined coarse to fine from "
        f"{MAX_FULL_RESOLUTION}. Gallery: the hexagons the training locations' probabilities are summed into.",
    )
    prior_col, normalise_col, neighbours_col = st.columns(3)
    prior = prior_col.checkbox(
        "Weight by where the training photos are (density prior P(x))", key=f"{key}_prior", disabled=candidates == "gallery",
        help="Grid only: a gallery of training locations already follows their density.",
    )
    normalise = normalise_col.checkbox(
        "Discount places that match every photo (÷ Z(x))", value=True, key=f"{key}_normalise",
        help="CSP is trained to pick the photo for a place, P(I | x); dividing by how well each place matches photos in "
        "general, Z(x), turns that into P(x | I) (Bayes' rule) and keeps a few 'hub' places from topping every photo.",
    )
    fitted = geolocator.neighbour_settings is not None
    neighbours = neighbours_col.checkbox(
        "Combine with the places of the most similar training photos (kNN density)", value=fitted,
        key=f"{key}_neighbours_{run.name}", disabled=not fitted or candidates == "gallery" or not normalise,
        help="P(x | I) ÷ Z(x) × a kernel density over the places of the photo's nearest training images (in image-feature "
        "space), with the settings fitted on the run's validation images. "
        + ("Grid and ÷ Z(x) only: the density is fitted with them." if fitted else "This run has none fitted: `python -m core geolocate --run RUN --calibrate` fits one."),
    )
    neighbours = neighbours and fitted and candidates == "grid" and normalise
    calibrated = geolocator.calibration is not None
    tau = tau_col.number_input(
        "Temperature τ", min_value=TAU_RANGE[0], max_value=TAU_RANGE[1], value=geolocator.default_tau(normalise, neighbours),
        format="%.4f", key=f"{key}_tau_{run.name}_{normalise}_{neighbours}",
        help="Logits are cos(e(x), g(f)) / τ: smaller τ, sharper P(x | I). Default: "
        + ("the run's calibrated τ (fitted on its validation images so that credible regions hold the truth as often as they say)."
           if calibrated else "the run's training τ (not calibrated: `python -m core geolocate --run RUN --calibrate` fits one)."),
    )
    class_index = class_run = None
    if predictor is not None:
        names = predictor.class_names
        class_index = st.selectbox(
            "Condition on a class y: P(x | I, y) ∝ P(x | I) · P(y | x)", [None, *range(len(names))], key=f"{key}_class",
            format_func=lambda c: "no class (P(x | I))" if c is None else names[c],
            help="P(y | x) comes from the location model picked above.",
        )
        class_run = str(predictor.location_run) if class_index is not None else None
    prior = prior and candidates == "grid"
    settings = Settings(str(run.run_dir), candidates, resolution, tau, prior, normalise, neighbours, class_index, class_run)
    return settings, geolocator


@st.cache_resource(max_entries=16, show_spinner="Where was this taken? Scoring the places…")
def _locate(
    image_key: str, settings: Settings, _geolocator: Geolocator, _image: Image.Image, _predictor: Predictor | None
) -> Geolocation:
    """The photo's geolocation, cached per (image, settings); the result is shared read-only."""
    terms = [_geolocator.density_prior()] if settings.prior else []
    if settings.class_index is not None and _predictor is not None:
        terms.append(ClassCondition(_predictor, settings.class_index))
    neighbours = _geolocator.neighbour_settings if settings.neighbours else None
    return _geolocator.locate_images([_image], settings.where, settings.tau, terms, settings.normalise, neighbours)[0]


@st.cache_resource(max_entries=16, show_spinner="Ranking the places of the most similar training photos…")
def _best_guess(image_key: str, run_dir: str, _geolocator: Geolocator, _image: Image.Image) -> tuple[float, float] | None:
    """The run's best guess (lon, lat) for the photo, cached per (image, run); None when its calibration chose none."""
    if _geolocator.rerank_settings is None:
        return None
    lon, lat = _geolocator.best_guesses(_geolocator.encode_images([_image]))[0]
    return float(lon), float(lat)


def _densest(distribution: Geolocation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cells, probability, area km²) of the densest cells holding DRAWN_MASS of the probability, densest first."""
    cells, probs, areas = distribution.cell_distribution
    count = int(np.searchsorted(np.cumsum(probs), DRAWN_MASS)) + 1
    return cells[:count], probs[:count], areas[:count]


def display_distribution(result: Geolocation) -> Geolocation:
    """``result``'s probabilities per cell, summed into coarser hexagons (each cell into its ancestor at one
    resolution lower, then lower…) until the densest holding DRAWN_MASS are at most MAX_DRAWN_CELLS."""
    cells, probs, areas = result.cell_distribution
    resolutions = np.array([h3.get_resolution(cell) for cell in cells.tolist()])
    resolution = int(resolutions.max())
    display = result if result.kind == "grid" else Geolocation("grid", cell_centers(cells), probs, cells, areas, resolution)
    while len(_densest(display)[0]) > MAX_DRAWN_CELLS and resolution > 0:
        resolution -= 1
        parents = [
            h3.cell_to_parent(cell, resolution) if own > resolution else cell
            for cell, own in zip(cells.tolist(), resolutions.tolist())
        ]
        cells, inverse = np.unique(np.array(parents), return_inverse=True)
        probs = np.bincount(inverse, weights=probs, minlength=len(cells))
        resolutions = np.array([h3.get_resolution(cell) for cell in cells.tolist()])
        display = Geolocation("grid", cell_centers(cells), probs, cells, cell_area_km2(cells), resolution)
    return display


def heatmap(result: Geolocation) -> Heatmap:
    """The densest hexagons of :func:`display_distribution` coloured by probability per km² (viridis, log scale over
    the drawn range, at most DENSITY_DECADES) and the outline of its 90 % credible region."""
    display = display_distribution(result)
    cells, probs, areas = _densest(display)
    density = np.maximum(probs / areas, 1e-300)
    peak = float(density.max())
    colors = sequential_colors(density, vmin=max(float(density.min()), peak * 10**-DENSITY_DECADES), vmax=peak, log=True)
    resolutions = [h3.get_resolution(cell) for cell in cells.tolist()]
    tooltips = [f"P = {p:.2%} in this hexagon (resolution {r})" for p, r in zip(probs.tolist(), resolutions)]
    outline = region_outline(display.credible_region(REGION_MASS).tolist())
    return Heatmap(
        hex_layer_json(cells.tolist(), colors, tooltips), outline, display, len(cells), float(probs.sum()),
        (min(resolutions), max(resolutions)),
    )


def region_outline(cells: list[str]) -> dict:
    """GeoJSON geometry of the union of H3 ``cells`` (of one resolution or several), from the hex layer's cached
    geometry: the cells of each resolution tile without overlap, so each group is merged as a coverage (fast)."""
    geometries = shapely.from_geojson(geometries_of(cells))
    resolutions = np.array([h3.get_resolution(cell) for cell in cells])
    parts = [shapely.coverage_union_all(geometries[resolutions == r]) for r in np.unique(resolutions).tolist()]
    return shapely.geometry.mapping(parts[0] if len(parts) == 1 else shapely.union_all(parts))


@st.cache_resource(max_entries=16, show_spinner="Drawing the heatmap…")
def _heatmap(image_key: str, settings: Settings, _result: Geolocation) -> Heatmap:
    return heatmap(_result)


def places_table(result: Geolocation, truth: tuple[float, float] | None = None, k: int = TOP_K) -> pd.DataFrame:
    """The ``k`` most likely places: probability, position, nearest GeoNames city, country and (with ``truth``) error."""
    places = result.top(k)
    lonlat = np.array([[p.lon, p.lat] for p in places])
    nearest = nearest_places(lonlat)
    table = pd.DataFrame(
        {
            "rank": range(1, len(places) + 1),
            "probability": [f"{p.probability:.2%}" for p in places],
            "latitude": [round(p.lat, 3) for p in places],
            "longitude": [round(p.lon, 3) for p in places],
            "nearest city": [", ".join(part for part in (city.name, city.admin1) if part) for city, _ in nearest],
            "country": [city.country_code for city, _ in nearest],
            "city distance km": [round(km) for _, km in nearest],
        }
    )
    if truth is not None:
        table["error km"] = np.round(haversine_km(lonlat, np.array(truth)[None, :]), 1)
    return table


def _markers(
    result: Geolocation, heat: Heatmap, truth: tuple[float, float] | None, guess: tuple[float, float] | None
) -> folium.FeatureGroup:
    """The region's outline, the top places (numbered), the best guess and the true position, over the hexagons."""
    group = folium.FeatureGroup(name="geolocation")
    folium.GeoJson(
        heat.region_outline, interactive=False,
        style_function=lambda _feature: {"color": REGION_COLOR, "weight": 2.5, "opacity": 1.0, "fill": False},
    ).add_to(group)
    for rank, place in enumerate(result.top(TOP_K), start=1):
        folium.CircleMarker(
            [place.lat, place.lon], radius=5, color="#000000", weight=1, fill=True, fill_color=PLACE_COLOR, fill_opacity=1.0,
            tooltip=folium.Tooltip(f"{rank}", permanent=rank == 1, direction="right"),
        ).add_to(group)
    if guess is not None:
        folium.CircleMarker(  # a core Leaflet marker: folium's polygon markers fetch a plugin from a CDN
            [guess[1], guess[0]], radius=7, color="#000000", weight=1.5, fill=True, fill_color=GUESS_COLOR, fill_opacity=1.0,
            tooltip=folium.Tooltip("best guess", permanent=True, direction="left"),
        ).add_to(group)
    if truth is not None:
        folium.CircleMarker(
            [truth[1], truth[0]], radius=8, color="#ffffff", weight=2, fill=True, fill_color=TRUE_COLOR, fill_opacity=1.0,
            tooltip=folium.Tooltip("true position", permanent=True, direction="right"),
        ).add_to(group)
    return group


def show_result(
    result: Geolocation, heat: Heatmap, truth: tuple[float, float] | None, key: str, guess: tuple[float, float] | None = None
) -> None:
    """The heatmap with the region, the places and the best ``guess``, the errors when ``truth`` is known, and the
    top-5 table."""
    try:
        world = maps.base_map(basemap="outlines")
    except MissingAssetsError as error:
        st.error(f"The map could not be drawn: {error}")
    else:
        maps.add_hex_layer(world, heat.hexagons, fill_opacity=0.75)
        st_folium(
            world, key=f"{key}_map", height=430, use_container_width=True, returned_objects=[],
            feature_group_to_add=_markers(result, heat, truth, guess),
        )
    display, (coarsest, finest) = heat.display, heat.drawn_resolutions
    resolutions = str(coarsest) if coarsest == finest else f"{coarsest}–{finest}"
    st.caption(
        f"P(x | I) over {len(result.probs):,} {'hexagons' if result.kind == 'grid' else 'training locations'}, drawn "
        f"in hexagons of resolution {resolutions}: the {heat.drawn_cells:,} densest "
        f"({heat.drawn_mass:.0%} of the probability) coloured by probability per km² (log scale, yellow = most likely); "
        f"magenta outline: the {REGION_MASS:.0%} credible region ({len(display.credible_region(REGION_MASS)):,} "
        f"hexagons, {display.credible_area_km2(REGION_MASS):,.0f} km²); white dots: the top {TOP_K} places."
        + ("" if guess is None else
           " Cyan dot: the best guess, from the photo alone — the place of one of its most similar training photos, the "
           "one CSP ranks first (chosen on the run's validation images; the single answer nearest the truth most often).")
    )
    if truth is not None:
        best = result.top(1)[0]
        top1_km = float(haversine_km([best.lon, best.lat], truth))
        mean_km = float(haversine_km(result.weighted_mean(), truth))
        inside = display.region_contains(truth, REGION_MASS)
        columns = st.columns(3 if guess is None else 4)
        columns[0].metric("Error of the top place", f"{top1_km:,.0f} km")
        columns[1].metric("Error of the weighted mean", f"{mean_km:,.0f} km")
        columns[2].metric(f"True position in the {REGION_MASS:.0%} region", "yes" if inside else "no")
        if guess is not None:
            columns[3].metric("Error of the best guess", f"{float(haversine_km(guess, truth)):,.0f} km")
    st.dataframe(places_table(result, truth), hide_index=True, key=f"{key}_places")
    with st.expander("Download P(x | I) over the hexagons as a GIS layer"):
        gis_widgets.download_buttons(lambda: heatmap_layer(result), "geolocation_heatmap", key, len(result.cell_distribution[0]))


def _section(
    image_key: str,
    image_source: Callable[[Geolocator], Image.Image],
    truth: tuple[float, float] | None,
    key: str,
    predictor: Predictor | None = None,
) -> None:
    """Settings, then the result of the image ``image_source(geolocator)`` gives (cached under ``image_key``)."""
    chosen = choose_settings(key, predictor)
    if chosen is None:
        return
    settings, geolocator = chosen
    try:
        image = image_source(geolocator)
        result = _locate(image_key, settings, geolocator, image, predictor)
        guess = _best_guess(image_key, settings.run_dir, geolocator, image)
    except (GeolocationError, OSError, ValueError) as error:
        st.error(f"The photo could not be geolocated: {escape_markdown(error)}")
        return
    show_result(result, _heatmap(image_key, settings, result), truth, key, guess)


@st.fragment
def photo_section(photo: Photo | None, predictor: Predictor | None = None) -> None:
    """Predict: a photo without GPS is geolocated at once; one with GPS behind a toggle, its position as the truth."""
    if photo is None:
        return
    st.header(TITLE)
    if photo.lonlat is not None and not st.toggle("Geolocate the photo as if it had no GPS position", key="geolocate_photo"):
        return  # the photo says where it was taken: geolocate it only when asked
    _section(photo.digest, lambda _geolocator: photo.image, photo.lonlat, "predict_geolocation", predictor)


def sample_image(dataset: GeoImageDataset, index: int, view: str) -> Image.Image:
    """The sample's image; for the embedded default dataset, in the chip ``view`` the run was trained on."""
    return dataset.load_image(index, view) if isinstance(dataset, DefaultDataset) else dataset.load_image(index)


def sample_section(dataset: GeoImageDataset, index: int) -> None:
    """Browse (behind the toggle of :mod:`geovis.sample_geolocation`): where the model would put the sample, its
    own position as the truth."""
    truth = tuple(float(v) for v in dataset.lonlat[index]) if dataset.has_location[index] else None
    _section(
        f"{app_state.active_dataset_key()}:{index}",
        lambda geolocator: sample_image(dataset, index, geolocator.config.data.view),
        truth, "browse_geolocation",
    )
