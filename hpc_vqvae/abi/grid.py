"""One scan of several bands onto the 2 km grid, the way the model sees it.

The preprocessing stage writes the store with this, and night-time prediction reads archive
scans with it, under the settings the store recorded and the checkpoint carried: the model is
fed at prediction time exactly what it was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .bands import band_number, pixels_per_2km
from .geometry import fixed_grid_sun_zenith
from .projection import FixedGridProjection
from .reader import FOCAL_PLANE_ATTRS, ABIReadError, read_band

# Bands of one scan share a grid far closer than this; the next 2 km pixel is 56 urad away.
SAME_GRID_RAD = 1e-6


@dataclass(frozen=True)
class GridSettings:
    """How finer bands are averaged to 2 km; recorded in the store (its attributes under these
    names) and carried into the checkpoint."""

    mask_dqf: bool = True  # DQF >= 2 becomes NaN before averaging
    min_valid_fraction: float = 0.5  # of the finer pixels a 2 km mean needs

    def min_valid(self, factor: int) -> int:
        """Valid pixels a ``factor`` x ``factor`` block needs."""
        return max(1, math.ceil(self.min_valid_fraction * factor * factor))

    def as_attrs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_attrs(cls, attrs: Mapping) -> GridSettings:
        """From a store's or a checkpoint's record; settings it lacks keep their defaults
        (the defaults every earlier store was made with)."""
        return cls(**{f.name: attrs[f.name] for f in fields(cls) if f.name in attrs})


class ScanError(Exception):
    """This scan cannot be brought onto the grid; ``kind`` groups the reasons in a summary."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class GriddedScan:
    """A scan's bands on one 2 km fixed grid, with what maps it and when it was seen."""

    bands: dict[str, np.ndarray]  # (ny, nx) float32: BT (K) or reflectance factor
    x: np.ndarray  # (nx,) scan angles of the 2 km pixel centres (rad)
    y: np.ndarray  # (ny,)
    projection: FixedGridProjection
    attrs: dict  # the first band's attributes: platform, sector, start/mid time, ...
    bytes_read: int
    # (n_bands, 3): each band's file's FOCAL_PLANE_ATTRS (max K, threshold K, pixels over)
    focal_plane: np.ndarray

    @property
    def time(self) -> np.datetime64:
        """The first band's mid-scan time: the time of the scan's solar geometry."""
        return np.datetime64(self.attrs["time"])

    def sun_zenith(self) -> np.ndarray:
        """(ny, nx) float32 solar zenith (deg), NaN off the Earth's disk."""
        sza = fixed_grid_sun_zenith(self.x, self.y, self.time, self.projection)
        return sza.astype(np.float32)


def grid_scan(
    files: Mapping[str, Path],
    bands: Sequence[str],
    settings: GridSettings,
    shape: tuple[int, int] | None = None,
) -> GriddedScan:
    """Read ``bands`` of one scan (``files`` by band name) onto the 2 km grid: reflective
    bands average counts, emissive ones temperatures (see ``read_band``). Raises ScanError:
    an unreadable file, a grid other than ``shape``, or bands on different grids."""
    out: dict[str, np.ndarray] = {}
    focal: list[list[float]] = []
    first = None
    nbytes = 0
    for name in bands:
        path = Path(files[name])
        factor = pixels_per_2km(band_number(name))
        try:
            da = read_band(
                path,
                mask_dqf=settings.mask_dqf,
                coarsen=factor,
                min_valid=settings.min_valid(factor),
            )
        except ABIReadError as err:
            raise ScanError("unreadable file", str(err)) from None
        nbytes += path.stat().st_size
        if shape is not None and da.shape != shape:
            raise ScanError(
                "wrong grid size",
                f"{path.name}: shape {da.shape} on the 2 km grid, expected {shape}",
            )
        if first is None:
            first = da
        elif not _same_grid(first, da):
            raise ScanError(
                "bands on different grids",
                f"{path.name}: not on the same fixed grid as {bands[0]}",
            )
        out[name] = da.values
        focal.append([da.attrs[k] for k in FOCAL_PLANE_ATTRS])
    if first is None:
        raise ValueError("grid_scan needs at least one band")
    projection = FixedGridProjection.from_attrs(first.attrs, first.attrs["source_file"])
    return GriddedScan(
        out,
        first.x.values,
        first.y.values,
        projection,
        dict(first.attrs),
        nbytes,
        np.array(focal, np.float64),
    )


def _same_grid(a, b) -> bool:
    if a.shape != b.shape:
        return False
    dx = np.abs(a.x.values - b.x.values).max()
    dy = np.abs(a.y.values - b.y.values).max()
    return bool(dx <= SAME_GRID_RAD and dy <= SAME_GRID_RAD)
