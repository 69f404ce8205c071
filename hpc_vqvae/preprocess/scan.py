"""The work for one scan: its bands on the 2 km grid (``abi.grid``, shared with prediction),
the solar zenith, and the scan's statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..abi.bands import BANDS, band_number
from ..abi.geometry import fixed_grid_lon_points
from ..abi.grid import ScanError, grid_scan
from ..abi.platforms import PLATFORMS
from ..abi.projection import FixedGridProjection
from ..store import stats
from .catalog import Scan
from .config import PreprocessConfig


@dataclass
class ScanResult:
    satellite: str  # G16..G19, as its files say
    bands: dict[str, np.ndarray]  # (ny, nx) float32 on the 2 km grid
    sza: np.ndarray  # (ny, nx) float32, degrees
    x: np.ndarray  # (nx,) scan angle of the 2 km pixel centres, radians
    y: np.ndarray  # (ny,)
    centre_lon: float  # longitude of the centre pixel (deg east), NaN off the disk
    day_fraction: float
    stats: np.ndarray  # (n_bands, 5) partial statistics, see layout.BAND_STAT_FIELDS
    bytes_read: int
    projection: FixedGridProjection  # as the files hold it (for the store's attributes)
    focal_plane: np.ndarray  # (n_bands, 3) the files' focal-plane records, layout.FOCAL_PLANE


def process_scan(scan: Scan, cfg: PreprocessConfig, shape: tuple[int, int]) -> ScanResult:
    """Raises abi.grid.ScanError with the reason when the scan cannot be used."""
    gridded = grid_scan(scan.files, cfg.bands, cfg.grid_settings, shape)
    _check_platform(scan, gridded.attrs["platform"], gridded.projection)
    sza = gridded.sun_zenith()
    on_disk = np.isfinite(sza)
    day = on_disk & (sza < cfg.stats_sza_max)
    day_fraction = float(day.sum() / max(on_disk.sum(), 1))
    mid = np.array([gridded.x[len(gridded.x) // 2]]), np.array([gridded.y[len(gridded.y) // 2]])
    partials = [
        stats.partial(v if BANDS[band_number(b)].emissive else np.where(day, v, np.nan))
        for b, v in gridded.bands.items()
    ]
    return ScanResult(
        gridded.attrs["platform"],
        gridded.bands,
        sza,
        gridded.x,
        gridded.y,
        float(fixed_grid_lon_points(*mid, gridded.projection)[0]),
        day_fraction,
        np.stack(partials),
        gridded.bytes_read,
        gridded.projection,
        gridded.focal_plane,
    )


def _check_platform(scan: Scan, platform: str, proj: FixedGridProjection) -> None:
    """The files are the satellite their names say, on a GOES-R fixed grid: a store records
    one ellipsoid and height for all its scans, and each scan's own projection longitude."""
    if platform != scan.satellite or platform not in PLATFORMS:
        raise ScanError("wrong satellite", f"{scan.label}: the files say platform {platform!r}")
    goes_r = FixedGridProjection.nominal(platform)
    shape = ("semi_major_axis", "semi_minor_axis", "perspective_point_height")
    if any(abs(getattr(proj, k) - getattr(goes_r, k)) > 1e-3 for k in shape):
        raise ScanError("not a GOES-R fixed grid", f"{scan.label}: projection {proj}")
