"""NOAA ABI L1b file names and the open-data archive layout.

Names look like ``OR_ABI-L1b-RadM1-M6C13_G17_s20193351027275_e..._c....nc``; the time stamps are
``YYYYJJJHHMMSSt`` (day of year, t = tenths of a second). In the archive they live under
``ABI-L1b-Rad{F,C,M}/YYYY/JJJ/HH/``; M1 and M2 share ``RadM``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from .bands import band_name

SECTORS = ("F", "C", "M1", "M2")
MODES = (3, 4, 6)
SATELLITES = ("G16", "G17", "G18", "G19")

_NAME_RE = re.compile(
    r"^OR_ABI-L1b-Rad(?P<sector>F|C|M1|M2)-M(?P<mode>[346])C(?P<band>0[1-9]|1[0-6])"
    r"_(?P<satellite>G1[6-9])_s(?P<start>\d{14})_e(?P<end>\d{14})_c(?P<created>\d{14})\.nc$"
)

# Where the fields sit, counted from the end of a name: after the sector a name is fixed-width
# (-M6C13_G17_s{14}_e{14}_c{14}.nc), so millions of names are screened or parsed by slicing.
FROM_END = {
    "sector": (-63, -61), "band": (-57, -55), "satellite": (-54, -51),
    "start": (-49, -35), "end": (-33, -19), "created": (-17, -3),
}  # fmt: skip
_HOUR, _MINUTE = (-42, -40), (-40, -38)  # of the start stamp


def sector_tail(sector: str) -> str:
    """A sector as the sector slice of a name reads it: RadF -> 'dF', RadM1 -> 'M1'."""
    return sector.rjust(2, "d")


def screen(sector: str, bands: Iterable[int], satellite: str, every_min: int | None):
    """A test of a name's slices alone, for millions of names: False only for a name that
    is not of this sector, these bands, this satellite and cadence (minute of day a multiple
    of ``every_min``) if it is an ABI name at all; ``is_name`` judges what passes."""
    tail, wanted = sector_tail(sector), {f"{b:02d}" for b in bands}
    (sa, sb), (ba, bb), (ta, tb) = FROM_END["sector"], FROM_END["band"], FROM_END["satellite"]

    def passes(name: str) -> bool:
        if name[sa:sb] != tail or name[ba:bb] not in wanted or name[ta:tb] != satellite:
            return False
        if every_min is None:
            return True
        try:
            minute = int(name[_HOUR[0] : _HOUR[1]]) * 60 + int(name[_MINUTE[0] : _MINUTE[1]])
        except ValueError:
            return True  # not an ABI name: is_name says so
        return minute % every_min == 0

    return passes


class ABINameError(ValueError):
    """A file name that is not an ABI L1b radiance file name."""


def _stamp_problem(stamp: str) -> str | None:
    if len(stamp) != 14 or not stamp.isdigit():
        return f"bad ABI time stamp {stamp!r}: expected YYYYJJJHHMMSSt"
    doy, hh, mm, ss = int(stamp[4:7]), int(stamp[7:9]), int(stamp[9:11]), int(stamp[11:13])
    if not (1 <= doy <= 366 and hh < 24 and mm < 60 and ss < 61):
        return f"bad ABI time stamp {stamp!r}: field out of range"
    return None


def parse_stamp(stamp: str) -> datetime:
    """``YYYYJJJHHMMSSt`` -> datetime (naive, UTC)."""
    problem = _stamp_problem(stamp)
    if problem:
        raise ABINameError(problem)
    year, doy = int(stamp[:4]), int(stamp[4:7])
    hh, mm, ss, tenth = int(stamp[7:9]), int(stamp[9:11]), int(stamp[11:13]), int(stamp[13])
    return datetime(year, 1, 1) + timedelta(
        days=doy - 1, hours=hh, minutes=mm, seconds=ss, milliseconds=100 * tenth
    )


def format_stamp(t: datetime) -> str:
    """datetime -> ``YYYYJJJHHMMSSt`` (truncated to tenths of a second, as NOAA does)."""
    return f"{t:%Y%j%H%M%S}{t.microsecond // 100_000}"


@dataclass(frozen=True, order=True)
class ABIFileName:
    """The fields of one L1b file name."""

    satellite: str  # G16..G19
    sector: str  # F, C, M1, M2
    start: datetime
    band: int  # 1..16
    mode: int  # 3, 4, 6
    end: datetime
    created: datetime

    @property
    def name(self) -> str:
        return (
            f"OR_ABI-L1b-Rad{self.sector}-M{self.mode}{band_name(self.band)}_{self.satellite}"
            f"_s{format_stamp(self.start)}_e{format_stamp(self.end)}"
            f"_c{format_stamp(self.created)}.nc"
        )

    @property
    def product(self) -> str:
        """The archive's product folder: M1 and M2 share ``ABI-L1b-RadM``."""
        return f"ABI-L1b-Rad{self.sector[0]}"

    @property
    def archive_dir(self) -> Path:
        """Relative folder in the NOAA open-data layout ``ABI-L1b-RadX/YYYY/JJJ/HH``."""
        return Path(self.product, f"{self.start:%Y}", f"{self.start:%j}", f"{self.start:%H}")

    @property
    def archive_path(self) -> Path:
        return self.archive_dir / self.name

    @property
    def scan_key(self) -> tuple[str, str, datetime]:
        """Files with the same key belong to one scan (one time step, all bands)."""
        return (self.satellite, self.sector, self.start)

    def with_band(self, band: int) -> ABIFileName:
        return replace(self, band=band)


def parse_name(name: str | Path) -> ABIFileName:
    """Parse an L1b file name (a bare name or a path); raise ABINameError naming it if unknown."""
    base = Path(name).name
    m = _NAME_RE.match(base)
    if m is None:
        raise ABINameError(f"not an ABI L1b radiance file name: {base!r}")
    return ABIFileName(
        satellite=m["satellite"],
        sector=m["sector"],
        start=parse_stamp(m["start"]),
        band=int(m["band"]),
        mode=int(m["mode"]),
        end=parse_stamp(m["end"]),
        created=parse_stamp(m["created"]),
    )


def is_name(name: str) -> bool:
    """``parse_name`` would accept it (a bare name or a path), without building the fields."""
    m = _NAME_RE.match(name.rpartition("/")[2])
    return m is not None and not any(_stamp_problem(m[k]) for k in ("start", "end", "created"))


@dataclass(frozen=True)
class ArchiveFile:
    """A ``*.nc`` found in an archive: its parsed name, or why the name was not understood."""

    path: Path
    name: ABIFileName | None
    problem: str | None = None


def archive_paths(
    root: str | Path,
    *,
    years: Iterable[int] | None = None,
    sectors: Iterable[str] | None = None,
) -> Iterator[str]:
    """Every ``*.nc`` under ``root/ABI-L1b-Rad*/YYYY/`` for the requested years and sectors.

    Only the year folders asked for are walked, so a ten-year archive is not listed to read one
    year; folders are listed with ``os.scandir`` (one call per folder, no ``stat`` per file).
    """
    want_years = None if years is None else {int(y) for y in years}
    want_products = None if sectors is None else {f"ABI-L1b-Rad{s[0]}" for s in sectors}
    for product in _folders(str(root)):
        if product.name.startswith("ABI-L1b-Rad") and (
            want_products is None or product.name in want_products
        ):
            for year in _folders(product.path):
                if want_years is None or (year.name.isdigit() and int(year.name) in want_years):
                    yield from _nc_files(year.path)


def _folders(path: str) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(path) if e.is_dir()), key=lambda e: e.name)


def _nc_files(path: str) -> Iterator[str]:
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir():
            yield from _nc_files(entry.path)
        elif entry.name.endswith(".nc"):
            yield entry.path


def walk_archive(
    root: str | Path,
    *,
    years: Iterable[int] | None = None,
    sectors: Iterable[str] | None = None,
) -> Iterator[ArchiveFile]:
    """``archive_paths``, each name parsed: names that do not parse are yielded with
    ``name=None`` and the reason, not raised."""
    for path in archive_paths(root, years=years, sectors=sectors):
        try:
            yield ArchiveFile(Path(path), parse_name(path))
        except ABINameError as err:
            yield ArchiveFile(Path(path), None, str(err))


def place_in_archive(
    files: Iterable[str | Path], root: str | Path, *, copy: bool = False
) -> list[Path]:
    """Link (or copy) loose L1b files into the archive layout under ``root``; return new paths.

    Useful for a folder of downloads that are not laid out as in the NOAA buckets.
    """
    import shutil

    out = []
    for f in files:
        src = Path(f).resolve()
        dest = Path(root) / parse_name(src).archive_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            if copy:
                shutil.copy2(src, dest)
            else:
                dest.symlink_to(src)
        out.append(dest)
    return out
