"""The ABI domain: file names, reading and calibration, fixed-grid geometry, synthetic archives."""

from .bands import BANDS, Band, band_number
from .geometry import lonlat, solar_zenith, sun_zenith
from .names import ABIFileName, ABINameError, ArchiveFile, parse_name, walk_archive
from .reader import ABIReadError, read_band

__all__ = [
    "ABIFileName",
    "ABINameError",
    "ABIReadError",
    "ArchiveFile",
    "BANDS",
    "Band",
    "band_number",
    "lonlat",
    "parse_name",
    "read_band",
    "solar_zenith",
    "sun_zenith",
    "walk_archive",
]
