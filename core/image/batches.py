"""Where extraction's pixels come from: batches of uint8 squares, decoded in worker processes.

The default dataset's chips are read straight from their memory map. Image files of any other
dataset are decoded by :func:`core.image.crops.decode_square` (reduced JPEG decoding, box crops) in
a :class:`torch.utils.data.DataLoader` whose worker processes prefetch whole batches, so decoding
runs beside the encoder rather than before it. A worker holds only the image paths and boxes of
the rows (not the dataset), and a file that cannot be decoded becomes a zero square plus a
:class:`Skipped` entry: one bad file never stops an extraction.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from core.data.base import CROP_COLUMNS, GeoImageDataset
from core.data.errors import DatasetError
from core.data.images import ImageRejected
from core.data.paths import resolve_inside
from core.image.crops import CropOptions, decode_square


@dataclass(frozen=True)
class Skipped:
    """A record whose image could not be encoded (its features are zeros): row, image path, why."""

    row: int
    image: str
    reason: str


@dataclass
class PixelBatch:
    """Rows ``[start, stop)`` as uint8 ``[n, H, W, 3]`` and the rows among them that were skipped."""

    start: int
    stop: int
    pixels: np.ndarray
    skipped: list[Skipped]


class DecodedImages(Dataset):
    """Item ``i`` is batch ``i`` of the rows' images, decoded to ``size`` squares (picklable, no dataset inside)."""

    def __init__(
        self,
        dataset: GeoImageDataset,
        batches: list[tuple[int, int]],
        size: int,
        crop_fraction: float,
        options: CropOptions,
    ) -> None:
        self.root = dataset.root
        self.images = dataset.records["image"].to_numpy(dtype=object)
        columns = [c for c in CROP_COLUMNS if c in dataset.records.columns]
        self.boxes = dataset.records[columns].to_numpy(dtype=np.float64) if len(columns) == 4 else None
        self.batches, self.size, self.crop_fraction, self.options = batches, size, crop_fraction, options

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, item: int) -> PixelBatch:
        start, stop = self.batches[item]
        pixels = np.zeros((stop - start, self.size, self.size, 3), dtype=np.uint8)
        skipped = []
        for row in range(start, stop):
            try:
                pixels[row - start] = self._decode(row)
            except ImageRejected as exc:
                skipped.append(Skipped(row, str(self.images[row]), exc.reason))
            except DatasetError as exc:
                skipped.append(Skipped(row, str(self.images[row]), exc.problem))
        return PixelBatch(start, stop, pixels, skipped)

    def _decode(self, row: int) -> np.ndarray:
        image = self.images[row]
        if not isinstance(image, str):
            raise DatasetError(self.root, "the record has no image")
        box = None if self.boxes is None else self.boxes[row]
        path = str(resolve_inside(self.root, str(image)))
        return decode_square(path, box, self.size, self.crop_fraction, self.options)


def chip_batches(chips: np.ndarray, batches: list[tuple[int, int]]) -> Iterator[PixelBatch]:
    """The default dataset's chips, batch by batch (memory-mapped, nothing decoded)."""
    for start, stop in batches:
        yield PixelBatch(start, stop, chips[start:stop], [])


def decoded_batches(images: DecodedImages, workers: int) -> Iterator[PixelBatch]:
    """The batches of ``images`` in order, decoded by ``workers`` processes (0: in this process), two ahead each.

    Workers are forked from a fork server (started once per process, with this module preloaded),
    never from the caller itself, which may be a many-threaded server such as the app.
    """
    workers = min(workers, len(images))
    if workers == 0:
        return (images[item] for item in range(len(images)))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    loader = DataLoader(
        images,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2,
        worker_init_fn=_one_thread,
        collate_fn=_as_is,
        multiprocessing_context=context,
    )
    return iter(loader)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def _as_is(batch: PixelBatch) -> PixelBatch:
    return batch
