"""Synthetic ABI L1b archives in NOAA's exact file format, with physically coupled scenes."""

from .archive import DEFAULT_BANDS, WEATHER, ArchiveSpec, write_archive, write_scan
from .scene import Scene
from .sectors import frame_for, scan_times
from .weather import Weather
from .writer import L1bScan, scan_name, write_l1b

__all__ = [
    "DEFAULT_BANDS",
    "ArchiveSpec",
    "L1bScan",
    "Scene",
    "WEATHER",
    "Weather",
    "frame_for",
    "scan_name",
    "scan_times",
    "write_archive",
    "write_l1b",
    "write_scan",
]
