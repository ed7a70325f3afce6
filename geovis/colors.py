"""Colours computed in Python (no colormap JavaScript): a categorical palette and a sequential colormap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: 20 distinguishable colours (Tableau 20, strong shades first), cycled for more classes.
CATEGORICAL = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)

#: Viridis sampled at 9 evenly spaced stops, interpolated linearly in between.
VIRIDIS = (
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725",
)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (int(round(float(c))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def class_color(index: int) -> str:
    """Hex colour of class ``index`` in the categorical palette (cycled)."""
    return CATEGORICAL[int(index) % len(CATEGORICAL)]


def class_colors(count: int) -> list[str]:
    """Hex colours for ``count`` classes, one per class index."""
    return [class_color(i) for i in range(count)]


def sequential_colors(
    values: Sequence[float] | np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    log: bool = False,
    stops: Sequence[str] = VIRIDIS,
) -> list[str]:
    """Map ``values`` to hex colours along ``stops`` (viridis by default).

    ``vmin``/``vmax`` default to the data range; ``log=True`` scales by log10 (values must be > 0).
    Values outside the range are clipped; a constant input maps to the middle colour; NaN maps to grey.
    """
    data = np.asarray(values, dtype=np.float64)
    if log:
        if (data[np.isfinite(data)] <= 0).any():
            raise ValueError("log colour scale needs values > 0")
        data = np.log10(data)
        vmin, vmax = (None if v is None else float(np.log10(v)) for v in (vmin, vmax))
    finite = data[np.isfinite(data)]
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    high = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    span = high - low
    fraction = np.clip((data - low) / span, 0.0, 1.0) if span > 0 else np.full(data.shape, 0.5)
    palette = np.array([_rgb(c) for c in stops], dtype=np.float64)
    position = fraction * (len(stops) - 1)
    lower = np.clip(np.floor(np.nan_to_num(position)).astype(int), 0, len(stops) - 2)
    weight = (position - lower)[:, None]
    rgb = palette[lower] * (1.0 - weight) + palette[lower + 1] * weight
    return [_hex(c) if np.isfinite(v) else "#808080" for c, v in zip(rgb, data)]
