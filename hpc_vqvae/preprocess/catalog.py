"""Which scans to process: walk the archive (or read a listing of it), filter, group files into
complete scans.

Runs on rank 0 only (one metadata walk, not one per rank) and is broadcast.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..abi.bands import band_name
from ..abi.names import ABIFileName, list_archive, walk_archive
from ..abi.platforms import satellite_on
from .config import PreprocessConfig


@dataclass(frozen=True)
class Scan:
    """One time step of one sector: a file per requested band."""

    satellite: str
    sector: str
    start: datetime
    files: dict[str, Path]  # band name (C13) -> file

    @property
    def label(self) -> str:
        return f"{self.satellite} {self.sector} {self.start:%Y-%m-%dT%H:%M:%S.%f}"[:-5]


@dataclass(frozen=True)
class Skipped:
    what: str  # a file or a scan label
    reason: str


@dataclass
class Catalog:
    scans: list[Scan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files_seen: int = 0


def _wanted(name: ABIFileName, cfg: PreprocessConfig) -> bool:
    """The sector, years, hours and cadence asked for, from the satellite asked for: a fixed
    one, or (east, west) the one that served the slot on the scan's UTC day."""
    if (name.satellite, name.sector) != (satellite_on(cfg.satellite, name.start), cfg.sector):
        return False
    if name.start.year not in cfg.years:
        return False
    if cfg.hours is not None and name.start.hour not in cfg.hours:
        return False
    if cfg.every is not None:
        minute = name.start.hour * 60 + name.start.minute
        return minute % int(cfg.every.total_seconds() // 60) == 0
    return True


def build_catalog(cfg: PreprocessConfig) -> Catalog:
    """Complete scans in time order, plus every file or scan left out and why."""
    if cfg.catalog is not None:
        if not cfg.catalog.is_file():
            raise FileNotFoundError(f"--catalog {cfg.catalog}: no such file")
        found = list_archive(cfg.catalog, cfg.archive, years=cfg.years, sectors=[cfg.sector])
    elif not cfg.archive.is_dir():
        raise FileNotFoundError(f"--archive {cfg.archive}: no such directory")
    else:
        found = walk_archive(cfg.archive, years=cfg.years, sectors=[cfg.sector])
    cat = Catalog()
    by_scan: dict[tuple, dict[str, tuple[ABIFileName, Path]]] = defaultdict(dict)
    for entry in found:
        cat.files_seen += 1
        if entry.name is None:
            cat.skipped.append(Skipped(str(entry.path), f"unparseable name: {entry.problem}"))
            continue
        band = band_name(entry.name.band)
        if band not in cfg.bands or not _wanted(entry.name, cfg):
            continue
        scan = by_scan[entry.name.scan_key]
        if band in scan:  # NOAA re-issues files: keep the newest creation time
            old_name, old_path = scan[band]
            newer, older = (
                (entry, old_path) if entry.name.created > old_name.created else (None, entry.path)
            )
            cat.skipped.append(
                Skipped(str(older), "duplicate of a newer file of the same scan and band")
            )
            if newer is None:
                continue
        scan[band] = (entry.name, entry.path)
    for (satellite, sector, start), files in sorted(by_scan.items(), key=lambda kv: kv[0][2]):
        missing = [b for b in cfg.bands if b not in files]
        scan = Scan(satellite, sector, start, {b: files[b][1] for b in cfg.bands if b in files})
        if missing:
            cat.skipped.append(Skipped(scan.label, f"incomplete scan: missing {','.join(missing)}"))
        else:
            cat.scans.append(scan)
    return cat
