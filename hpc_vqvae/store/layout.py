"""The preprocessed store's layout: the one place that names its arrays, attributes, time
encoding and version. The preprocessing stage writes by these names, and the data stage,
prediction and evaluation read by them (through ``reader``); neither imports the other.

A store is a Zarr v3 group with dims (time, y, x) on the 2 km grid: one float32 array per band
(named as the band: C13, C02, ...) and ``sza``; per-scan scan angles, ``day_fraction``,
``written`` flags, ``band_stats`` partials and each band's ``focal_plane`` record. Its
attributes record what made it: the satellite, sector, bands and grid settings (which must
match to resume or append), the fixed-grid projection read from the files, and the band
statistics training normalises with.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import zarr

from ..abi.bands import BANDS, band_number
from ..abi.epoch import J2000

LAYOUT_KEY = "hpc_vqvae_layout"  # LAYOUT_VERSION once the template is complete
LAYOUT_VERSION = 5  # 2: each scan records its satellite; 3: CF grid mapping and coordinates;
# 4: per-scan arrays in blocks of many scans, and each scan's centre longitude; 5: each scan's
# focal-plane temperature record per band
READABLE_VERSIONS = (1, 2, 3, 4, 5)  # what the data stage and prediction open
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
CENTRE_LON = "centre_lon"  # (time,) float64: longitude of the scan's centre pixel (layout 4)
# (time, band, focal) float64 (layout 5): each band file's focal-plane record, as the L1b files
# give it (NaN: a fill value, as in reflective bands, or a scan not written). GOES-17's loop
# heat pipe let its IR focal planes warm on many nights around the equinoxes of 2019-2022: a
# scan with a count above 0, or a maximum above the threshold, had degraded IR bands.
FOCAL_PLANE = "focal_plane"
FOCAL_PLANE_FIELDS = (  # abi.reader's FOCAL_PLANE_ATTRS, in its order
    "focal_plane_temperature_max",  # K
    "focal_plane_threshold_increasing",  # K
    "focal_plane_threshold_exceeded_count",  # pixels
)
SCAN_FAILED, SCAN_PENDING, SCAN_WRITTEN = -1, 0, 1  # values of WRITTEN

# The arrays with one value or one row per scan: small, so they are chunked in blocks of many
# scans (``scans_per_block``) rather than in data shards; layouts 1-3 chunked them per shard.
PER_SCAN = (
    DAY_FRACTION, WRITTEN, PLATFORM, PROJECTION_LON, CENTRE_LON, BAND_STATS,
    FIXED_GRID_X, FIXED_GRID_Y, FOCAL_PLANE,
)  # fmt: skip
SCANS_PER_BLOCK = "scans_per_block"  # attribute (layout 4; older stores: per shard)

# A store's file count: each data array (bands, sza) has one file per shard, each per-scan array
# one per block. Parallel file systems cap a user's inodes in the low millions and want few,
# large files, so the default sizes grow with the store: a 5-year, 1-minute meso store (2.6M
# scans) keeps near 150,000 files. A block is also the unit dealt to a writing rank (one writer
# per object), so a store keeps about MIN_BLOCKS of them where it can.
DATA_FILES = 150_000  # aimed at over all data arrays
MIN_SCANS_PER_SHARD, MAX_SCANS_PER_SHARD = 8, 512
MIN_BLOCKS, MAX_SHARDS_PER_BLOCK = 1024, 64


def _pow2_at_least(x: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(x, 1.0))))


def shard_sizes(
    n_scans: int,
    n_data_arrays: int,
    scans_per_shard: int | None = None,
    scans_per_block: int | None = None,
) -> tuple[int, int]:
    """(scans_per_shard, scans_per_block) of a new store of ``n_scans`` scans; what is given
    is kept (a block must be a whole number of shards: the config checks it)."""
    if scans_per_shard is None:
        wanted = _pow2_at_least(n_scans * n_data_arrays / DATA_FILES)
        scans_per_shard = min(MAX_SCANS_PER_SHARD, max(MIN_SCANS_PER_SHARD, wanted))
    if scans_per_block is None:
        shards = _pow2_at_least(n_scans / (scans_per_shard * MIN_BLOCKS))
        scans_per_block = scans_per_shard * min(MAX_SHARDS_PER_BLOCK, shards)
    return scans_per_shard, scans_per_block


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
    "scans_per_block",
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
