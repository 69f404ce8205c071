"""The work for one scan: read and calibrate every band, bring all to the 2 km grid, add
the solar zenith, and the scan's statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..abi.bands import BANDS, band_number, pixels_per_2km
from ..abi.geometry import GEOMETRY_KEYS, PROJECTION_KEYS, fixed_grid_sun_zenith
from ..abi.reader import ABIReadError, read_band
from . import stats
from .catalog import Scan
from .config import PreprocessConfig


class ScanError(Exception):
    """This scan cannot be written; ``kind`` groups the reasons in the summary."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class ScanResult:
    bands: dict[str, np.ndarray]  # (ny, nx) float32 on the 2 km grid
    sza: np.ndarray  # (ny, nx) float32, degrees
    x: np.ndarray  # (nx,) scan angle of the 2 km pixel centres, radians
    y: np.ndarray  # (ny,)
    day_fraction: float
    stats: np.ndarray  # (n_bands, 5) partial statistics, see stats.FIELDS
    bytes_read: int
    projection: dict  # the file's goes_imager_projection (for the store's attributes)


def process_scan(scan: Scan, cfg: PreprocessConfig, shape: tuple[int, int]) -> ScanResult:
    """Raises ScanError with the reason when the scan cannot be used."""
    out: dict[str, np.ndarray] = {}
    grid = None
    nbytes = 0
    attrs = None
    for name in cfg.bands:
        path = scan.files[name]
        factor = pixels_per_2km(band_number(name))
        min_valid = max(1, int(np.ceil(cfg.min_valid_fraction * factor * factor)))
        try:
            da = read_band(path, mask_dqf=cfg.mask_dqf, coarsen=factor, min_valid=min_valid)
        except ABIReadError as err:
            raise ScanError("unreadable file", str(err)) from None
        nbytes += path.stat().st_size
        if da.shape != shape:
            raise ScanError(
                "wrong grid size",
                f"{path.name}: shape {da.shape} on the 2 km grid, expected {shape}",
            )
        x, y = da.x.values, da.y.values
        if grid is None:
            grid, attrs = (x, y), da.attrs
        elif np.abs(grid[0] - x).max() > 1e-6 or np.abs(grid[1] - y).max() > 1e-6:
            raise ScanError(
                "bands on different grids",
                f"{path.name}: not on the same fixed grid as {cfg.bands[0]}",
            )
        out[name] = da.values
    assert grid is not None and attrs is not None
    proj = {k: attrs[k] for k in GEOMETRY_KEYS}
    when = np.datetime64(attrs["time"])
    sza = fixed_grid_sun_zenith(grid[0], grid[1], when, **proj).astype(np.float32)
    on_disk = np.isfinite(sza)
    day = on_disk & (sza < cfg.day_sza_max)
    day_fraction = float(day.sum() / max(on_disk.sum(), 1))
    partials = [
        stats.partial(v if BANDS[band_number(b)].emissive else np.where(day, v, np.nan))
        for b, v in out.items()
    ]
    projection = {k: attrs[k] for k in PROJECTION_KEYS}
    return ScanResult(
        out, sza, grid[0], grid[1], day_fraction, np.stack(partials), nbytes, projection
    )
