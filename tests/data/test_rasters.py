"""Chip windows over global rasters: antimeridian wrap, pole folding, box filter, majority labels."""

import numpy as np

from core.data.rasters import GlobalRaster, fold_over_poles, majority


def column_raster(width: int = 360) -> GlobalRaster:
    """A global raster whose value is the column index (1 degree per pixel)."""
    return GlobalRaster(np.tile(np.arange(width, dtype=np.int64), (width // 2, 1)))


def row_raster(width: int = 360) -> GlobalRaster:
    return GlobalRaster(np.tile(np.arange(width // 2, dtype=np.int64)[:, None], (1, width)))


def test_pixel_indices_of_corners_and_centre():
    raster = column_raster()
    rows, cols = raster.pixel_indices(np.array([-180.0, 0.0, 179.999]), np.array([90.0, 0.0, -90.0]))
    assert rows.tolist() == [0, 90, 179]
    assert cols.tolist() == [0, 180, 359]


def test_window_wraps_across_the_antimeridian():
    window = column_raster().windows(np.array([[179.5, 0.0]]), footprint_deg=4.0, out_px=4)[0]
    # Samples at lon 178, 179, 180, 181: the last two continue from the west edge (-180, -179).
    assert window[0].tolist() == [358, 359, 0, 1]
    assert (window == window[0]).all()


def test_window_folds_over_the_north_pole():
    raster = row_raster()
    window = raster.windows(np.array([[10.0, 89.5]]), footprint_deg=4.0, out_px=4)[0]
    # Samples at lat 91, 90, 89, 88: 91 folds back to 89 (row 1) on the opposite meridian.
    assert window[:, 0].tolist() == [1, 0, 1, 2]
    lon, lat = fold_over_poles(np.array([10.0, 10.0]), np.array([91.0, -92.0]))
    assert lat.tolist() == [89.0, -88.0]
    assert lon.tolist() == [-170.0, -170.0]


def test_supersampled_window_is_the_box_average():
    raster = GlobalRaster(np.tile(np.arange(720, dtype=np.uint8)[None, :] % 2 * 200, (360, 1)))
    window = raster.windows(np.array([[0.25, 0.0]]), footprint_deg=2.0, out_px=2, supersample=2)[0]
    assert (window == 100).all()


def test_majority_picks_most_frequent_class_per_window():
    windows = np.array([[[1, 1], [2, 0]], [[3, 3], [3, 0]], [[0, 5], [5, 0]]])
    assert majority(windows, 6).tolist() == [1, 3, 0]
