"""The preprocessed store's layout: the one place that names its arrays, attributes, time
encoding and version. The preprocessing stage writes by these names, and the data stage,
prediction and evaluation read by them (through ``reader``); neither imports the other.

A store is a Zarr v3 group with dims (time, y, x) on the 2 km grid: one float32 array per band
(named as the band: C13, C02, ...) and ``sza``; per-scan scan angles, ``day_fraction``,
``written`` flags and ``band_stats`` partials. Its attributes record what made it: the
satellite, sector, bands and grid settings (which must match to resume or append), the
fixed-grid projection read from the files, and the band statistics training normalises with.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import zarr

from ..abi.bands import BANDS, band_number
from ..abi.epoch import J2000

LAYOUT_KEY = "hpc_vqvae_layout"  # LAYOUT_VERSION once the template is complete
LAYOUT_VERSION = 3  # 2: each scan records its satellite; 3: CF grid mapping and coordinates
READABLE_VERSIONS = (1, 2, 3)  # what the data stage and prediction open
TEMPLATE_PENDING = "template-in-progress"  # LAYOUT_KEY while the template is being written

# Arrays besides the bands (time is the scan start, UTC).
SZA = "sza"  # (time, y, x) solar zenith (deg) at the scan's mid time
FIXED_GRID_X, FIXED_GRID_Y = "fixed_grid_x", "fixed_grid_y"  # (time, x) / (time, y) rad
DAY_FRACTION = "day_fraction"  # (time,) share of on-disk pixels with sza < stats_sza_max
WRITTEN = "written"  # (time,) int8 flag, see below
BAND_STATS = "band_stats"  # (time, band, stat) per-scan partial statistics
BAND_STAT_FIELDS = ("count", "mean", "m2", "min", "max")
PLATFORM = "platform"  # (time,) int8: the scan's satellite as its number (17: G17); 0 pending
PROJECTION_LON = "projection_longitude"  # (time,) float64: its longitude_of_projection_origin
SCAN_FAILED, SCAN_PENDING, SCAN_WRITTEN = -1, 0, 1  # values of WRITTEN

# Time as int64 microseconds since J2000: exact for ABI's tenth-of-a-second stamps; UTC
# counted as numpy does, without leap seconds (CF 1.11's units_metadata says so).
TIME_ENCODING = {"units": f"microseconds since {J2000:%Y-%m-%d %H:%M:%S}", "dtype": "int64"}
TIME_ATTRS = {"standard_name": "time", "units_metadata": "leap_seconds: none"}

# CF: the conventions followed, and the grid-mapping variable (0-d, its attributes the
# geostationary projection) that the bands and sza name, as NOAA's L1b files do.
CONVENTIONS = "CF-1.11"
GRID_MAPPING = "goes_imager_projection"


def scan_angle_attrs(axis: str) -> dict:
    """The per-scan scan angles, coordinates under CF's projection names, so that one scan
    (``isel(time=i)``) is georeferenced by them: meso sectors move between scans."""
    return {
        "units": "rad",
        "standard_name": f"projection_{axis}_coordinate",
        "long_name": f"GOES fixed grid {axis} scan angle of each scan",
    }


# Attributes.
STATISTICS = "statistics"  # band -> count, mean, std, min, max (visible bands: daytime only)
PROJECTION = "projection"  # the FixedGridProjection read from the files, as attributes
# (the first scan's; the scans' own longitudes are PROJECTION_LON, the rest is GOES-R's)
SATELLITES = "satellites"  # satellite -> {"scans", "first", "last"} of the written scans
# What must match for a store to be resumed or appended to (and what the model was fed).
IDENTITY = (
    "satellite",
    "sector",
    "input_bands",
    "target_bands",
    "grid_shape",
    "scans_per_shard",
    "mask_dqf",
    "min_valid_fraction",
    "stats_sza_max",
)
# Attribute names of stores made before a rename: read as the new name.
LEGACY_ATTRS = {"day_sza_max": "stats_sza_max"}


def identity(attrs: Mapping) -> dict:
    """The store's identity attributes, under today's names whatever its age."""
    renamed = {LEGACY_ATTRS.get(k, k): v for k, v in attrs.items()}
    return {k: renamed.get(k) for k in IDENTITY}


def platform_code(satellite: str) -> int:
    """``G17`` -> 17, as the PLATFORM array holds it."""
    return int(satellite.removeprefix("G"))


def platform_name(code: int) -> str:
    return f"G{int(code)}"


def band_attrs(name: str) -> dict:
    """CF attributes of a band's array."""
    band = BANDS[band_number(name)]
    if band.emissive:
        return {
            "grid_mapping": GRID_MAPPING,
            "units": "K",
            "long_name": f"{name} brightness temperature",
            "standard_name": "toa_brightness_temperature",
            "wavelength_um": band.wavelength_um,
        }
    return {
        "grid_mapping": GRID_MAPPING,
        "units": "1",
        "long_name": f"{name} reflectance factor",
        "standard_name": "toa_bidirectional_reflectance",
        "wavelength_um": band.wavelength_um,
    }


def consolidate(path: Path) -> None:
    """One metadata read for whoever opens the store; done once, when writing is over."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not (yet) in the v3 spec
        zarr.consolidate_metadata(path)
