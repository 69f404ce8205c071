"""Which objects of NOAA's buckets a fetch wants: pure functions of the config and the names.

The buckets are ``noaa-goes16`` .. ``noaa-goes19``, laid out as ``ABI-L1b-Rad{F,C,M}/YYYY/JJJ/HH/``
(M1 and M2 share ``RadM``); every scan mode (3 before 2019-04-02, then 6; 4 for full disk) is
taken, since the mode is only part of the file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

from ..abi.names import is_name, screen
from ..abi.platforms import satellite_on
from .config import FetchConfig


def bucket(satellite: str) -> str:
    return f"noaa-goes{satellite[1:]}"


@dataclass(frozen=True)
class Prefix:
    """One hour folder of one bucket, and the satellite whose files are wanted from it."""

    satellite: str
    path: str  # bucket/ABI-L1b-RadM/YYYY/JJJ/HH/


@dataclass(frozen=True)
class Remote:
    """An object to copy: its key (with the bucket), size and ETag."""

    key: str
    size: int
    etag: str

    @property
    def relative(self) -> PurePosixPath:
        """Where it goes under --dest: the bucket's own layout, without the bucket."""
        return PurePosixPath(self.key.split("/", 1)[1])


def prefixes(cfg: FetchConfig) -> list[Prefix]:
    """Every hour folder the period, hours and satellite choice cover."""
    hours = cfg.hours if cfg.hours is not None else range(24)
    out = []
    for day in cfg.days():
        satellite = satellite_on(cfg.satellite, day)
        for hour in hours:
            path = f"{bucket(satellite)}/ABI-L1b-Rad{cfg.sector[0]}/{day:%Y/%j}/{hour:02d}/"
            out.append(Prefix(satellite, path))
    return out


def select(prefix: Prefix, listing: list[dict], cfg: FetchConfig) -> list[Remote]:
    """The wanted objects of one hour folder's listing (s3fs ``ls(detail=True)`` entries). A
    meso hour holds 1,920 objects, of which a selection wants a few dozen, and five years are
    84M names: names are screened by slices (``names.screen``: sector, band, the satellite
    serving that day, cadence) and only those that pass are checked whole (``names.is_name``)."""
    every = None if cfg.every is None else int(cfg.every.total_seconds() // 60)
    passes = screen(cfg.sector, cfg.band_numbers, prefix.satellite, every)
    return [
        Remote(entry["name"], int(entry["size"]), _etag(entry))
        for entry in listing
        if entry.get("type") == "file" and passes(entry["name"]) and is_name(entry["name"])
    ]


def _etag(entry: dict) -> str:
    return str(entry.get("ETag") or entry.get("etag") or "").strip('"')


def satellites_of(cfg: FetchConfig) -> dict[str, tuple[date, date]]:
    """The satellites a fetch reads from and the days each one covers (for the summary)."""
    out: dict[str, tuple[date, date]] = {}
    for day in cfg.days():
        sat = satellite_on(cfg.satellite, day)
        first, _ = out.get(sat, (day, day))
        out[sat] = (first, day)
    return out
