"""A synthetic archive: many scans, all requested bands, laid out as NOAA's buckets."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..bands import BANDS, INPUT_BANDS, TARGET_BANDS, band_number
from ..geometry import fixed_grid_lonlat, sun_zenith
from ..projection import FixedGridProjection
from .scene import Scene
from .sectors import frame_for, home_frame, scan_times
from .weather import Weather
from .writer import L1bScan, scan_name, write_l1b

WEATHER = ("fresh", "persistent")
DEFAULT_BANDS = tuple(sorted(band_number(b) for b in (*INPUT_BANDS, *TARGET_BANDS)))


@dataclass(frozen=True)
class ArchiveSpec:
    """What to generate. Everything is deterministic for ``seed``."""

    root: Path
    start: datetime
    end: datetime
    satellite: str = "G17"
    sector: str = "M1"
    mode: int = 6
    bands: tuple[int, ...] = DEFAULT_BANDS
    every: timedelta | None = None
    hours: tuple[int, ...] | None = None
    seed: int = 0
    # fresh: new clouds for every scan; persistent: systems that drift and evolve over days
    # (weather.py), so that neighbouring days share scenes as real ones do
    weather: str = "fresh"

    def scan_starts(self) -> list[datetime]:
        return scan_times(self.start, self.end, self.sector, self.every, self.hours)


def _scan_rng(
    seed: int, satellite: str, sector: str, start: datetime, salt: int
) -> np.random.Generator:
    key = zlib.crc32(f"{satellite}{sector}".encode())
    return np.random.default_rng([seed, key, int(start.timestamp() * 10), salt])


@lru_cache(maxsize=4)
def _weather(seed: int, satellite: str, sector: str) -> Weather:
    """The persistent weather around the sector's home position (where NOAA's M1 sat)."""
    x, y = home_frame(sector).centres(1)
    lon, lat = fixed_grid_lonlat(
        x[len(x) // 2 : len(x) // 2 + 1], y[len(y) // 2 : len(y) // 2 + 1],
        FixedGridProjection.nominal(satellite),
    )  # fmt: skip
    return Weather(seed, satellite, sector, (float(lon[0, 0]), float(lat[0, 0])))


def write_scan(spec: ArchiveSpec, start: datetime) -> list[Path]:
    """Generate and write every band of one scan; files that exist already are kept."""
    names = {b: scan_name(spec.satellite, spec.sector, spec.mode, b, start) for b in spec.bands}
    paths = {b: spec.root / n.archive_path for b, n in names.items()}
    todo = [b for b in spec.bands if not paths[b].exists()]
    if todo:
        frame = frame_for(spec.sector, start, spec.seed)
        x, y = frame.centres(2)  # the scene lives on the 1 km grid
        lon, lat = fixed_grid_lonlat(x, y, FixedGridProjection.nominal(spec.satellite))
        mid = start + (names[spec.bands[0]].end - start) / 2
        clouds = None
        if spec.weather == "persistent":
            weather = _weather(spec.seed, spec.satellite, spec.sector)
            clouds = weather.clouds(np.nan_to_num(lon), np.nan_to_num(lat), mid)
        scene = Scene(
            lon,
            lat,
            sun_zenith(mid, lon, lat),
            _scan_rng(spec.seed, spec.satellite, spec.sector, start, 0),
            clouds,
        )
        for band in todo:
            noise = _scan_rng(spec.seed, spec.satellite, spec.sector, start, band)
            write_l1b(paths[band], L1bScan(names[band], frame), scene.band(band, noise))
    return [paths[b] for b in spec.bands]


def write_archive(spec: ArchiveSpec, progress: Iterable | None = None) -> list[Path]:
    """Write all scans of ``spec``; a rerun completes a partial archive without rewriting."""
    if spec.weather not in WEATHER:
        raise ValueError(f"weather {spec.weather!r}: expected one of {', '.join(WEATHER)}")
    unknown = [b for b in spec.bands if b not in BANDS]
    if unknown:
        raise ValueError(f"unknown ABI bands {unknown}")
    starts = spec.scan_starts()
    written: list[Path] = []
    for start in progress(starts) if progress else starts:
        written.extend(write_scan(spec, start))
    return written
