"""Which scans to process: walk the archive (or read a listing of it), filter, group files into
complete scans.

Runs on rank 0 only (one metadata walk, not one per rank); each rank is then sent its own share.
Years of meso scans are millions of scans and 15.8 million files, so the catalog is columns
(``abi.listing``): a ``Scan`` object exists only while its rank works on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from ..abi.bands import band_number
from ..abi.listing import NameColumns, parse_names, problems, read_listing, resolve
from ..abi.names import SATELLITES, SECTORS, archive_paths
from ..abi.platforms import satellite_on
from .config import PreprocessConfig

WALK_BLOCK = 100_000  # walked paths parsed together, as a listing's block is
_EMPTY = pa.chunked_array([], pa.large_string())


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


def gather(paths: pa.ChunkedArray, rows: np.ndarray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """These rows of ``paths``, chunk by chunk, and where each row landed in the result.
    (``ChunkedArray.take`` first concatenates every chunk: gigabytes for a few paths.)"""
    ends = np.cumsum([len(chunk) for chunk in paths.chunks])
    chunk = np.searchsorted(ends, rows, side="right")
    order = np.argsort(chunk, kind="stable")
    at = np.empty(len(rows), np.int64)
    at[order] = np.arange(len(rows))
    parts = [
        paths.chunks[c].take(pa.array(rows[order[chunk[order] == c]] - (ends[c - 1] if c else 0)))
        for c in np.unique(chunk)
    ]
    return pa.chunked_array(parts, pa.large_string()), at


@dataclass(eq=False)
class ScanTable:
    """Complete scans in time order, as columns; a sequence of ``Scan`` made on demand."""

    sector: str
    bands: tuple[str, ...]
    start: np.ndarray  # datetime64[us]
    satellite: np.ndarray  # int8: index into names.SATELLITES
    files: np.ndarray  # int64 (scans, bands): rows of ``paths``
    paths: pa.ChunkedArray = field(default_factory=lambda: _EMPTY)  # as listed (see root)
    root: str = ""

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, i: int | slice) -> Scan | list[Scan]:
        if isinstance(i, slice):
            return self.scans(np.arange(len(self))[i])
        return self.scans(np.array([range(len(self))[i]]))[0]

    def __iter__(self) -> Iterator[Scan]:
        for first in range(0, len(self), 4096):
            yield from self.scans(np.arange(first, min(first + 4096, len(self))))

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other)  # type: ignore[call-overload]

    def scans(self, rows: np.ndarray) -> list[Scan]:
        """These rows as ``Scan`` objects (their paths read out of Arrow together)."""
        found, at = gather(self.paths, self.files[rows].ravel())
        names = found.to_pylist()
        paths = iter(resolve(self.root, names[i]) for i in at)
        return [
            Scan(SATELLITES[self.satellite[r]], self.sector, self.start[r].item(), dict(zip(
                self.bands, islice(paths, len(self.bands)), strict=True
            )))
            for r in rows
        ]  # fmt: skip

    @staticmethod
    def concat(tables: list[ScanTable]) -> ScanTable:
        """Tables of one selection (a share received in pieces) as one; paths are not copied."""
        offsets = np.cumsum([0] + [len(t.paths) for t in tables[:-1]])
        chunks = [chunk for t in tables for chunk in t.paths.chunks]
        return ScanTable(
            tables[0].sector, tables[0].bands,
            np.concatenate([t.start for t in tables]),
            np.concatenate([t.satellite for t in tables]),
            np.concatenate([t.files + offset for t, offset in zip(tables, offsets, strict=True)]),
            pa.chunked_array(chunks, pa.large_string()), tables[0].root,
        )  # fmt: skip

    def take(self, rows: np.ndarray, compact: bool = False) -> ScanTable:
        """These rows; ``compact`` also keeps only their paths (a share sent to another rank)."""
        files, paths = self.files[rows], self.paths
        if compact:
            paths, at = gather(paths, files.ravel())
            files = at.reshape(files.shape)
        return ScanTable(
            self.sector, self.bands, self.start[rows], self.satellite[rows], files, paths, self.root
        )


@dataclass
class Catalog:
    scans: ScanTable
    skipped: list[Skipped] = field(default_factory=list)
    files_seen: int = 0


def build_catalog(cfg: PreprocessConfig) -> Catalog:
    """Complete scans in time order, plus every file or scan left out and why."""
    if cfg.catalog is not None:
        if not cfg.catalog.is_file():
            raise FileNotFoundError(f"--catalog {cfg.catalog}: no such file")
        blocks, root = read_listing(cfg.catalog), str(cfg.archive)
    elif not cfg.archive.is_dir():
        raise FileNotFoundError(f"--archive {cfg.archive}: no such directory")
    else:
        blocks, root = _walk(cfg), ""
    skipped, kept, names, seen = [], [], [], 0
    for paths in blocks:
        seen += len(paths)
        ok, found = parse_names(paths)
        bad = paths.filter(pa.array(~ok)).to_pylist()
        skipped += [
            Skipped(str(resolve(root, p)), f"unparseable name: {why}")
            for p, why in zip(bad, problems(bad), strict=True)
        ]
        wanted = _wanted(found, cfg)
        ok[ok] = wanted
        kept.append(paths.filter(pa.array(ok)))
        names.append(found.take(wanted))
    paths, names = pa.chunked_array(kept, pa.large_string()), NameColumns.concat(names)
    scans, left_out = _group(names, paths, root, cfg)
    return Catalog(scans, sorted(skipped, key=lambda s: s.what) + left_out, seen)


def _walk(cfg: PreprocessConfig) -> Iterator[pa.Array]:
    """The archive's year folders, walked with a progress bar, in blocks of paths."""
    found = archive_paths(cfg.archive, years=cfg.years, sectors=[cfg.sector])
    with tqdm(desc=f"walk {cfg.archive}", unit=" files", unit_scale=True) as bar:
        while block := list(islice(found, WALK_BLOCK)):
            bar.update(len(block))
            yield pa.array(block, pa.large_string())


def _wanted(names: NameColumns, cfg: PreprocessConfig) -> np.ndarray:
    """The sector, years, hours, cadence and bands asked for, from the satellite asked for: a
    fixed one, or (east, west) the one that served the slot on the scan's UTC day."""
    day = names.start.astype("datetime64[D]")
    minute = (names.start - day) // np.timedelta64(1, "m")
    keep = names.sector == SECTORS.index(cfg.sector)
    keep &= np.isin(day.astype("datetime64[Y]").astype(np.int64) + 1970, cfg.years)
    keep &= np.isin(names.band, [band_number(b) for b in cfg.bands])
    if cfg.hours is not None:
        keep &= np.isin(minute // 60, cfg.hours)
    if cfg.every is not None:
        keep &= minute % int(cfg.every.total_seconds() // 60) == 0
    days, at = np.unique(day[keep], return_inverse=True)
    serving = [SATELLITES.index(satellite_on(cfg.satellite, d.item())) for d in days]
    keep[keep] = names.satellite[keep] == np.asarray(serving, np.int8)[at]
    return keep


def _group(
    names: NameColumns, paths: pa.ChunkedArray, root: str, cfg: PreprocessConfig
) -> tuple[ScanTable, list[Skipped]]:
    """Files -> scans: of a file re-issued by NOAA the newest creation time is kept (the first
    listed of equals); a scan without every band is left out."""
    if not len(names.start):
        empty = np.zeros((0, len(cfg.bands)), np.int64)
        return ScanTable(cfg.sector, tuple(cfg.bands), names.start, names.satellite, empty), []
    start = names.start.view(np.int64)
    order = np.lexsort((-names.created, names.band, start, names.satellite))  # stable
    sat, start, band = names.satellite[order], start[order], names.band[order]
    first = np.r_[True, (sat[1:] != sat[:-1]) | (start[1:] != start[:-1])]  # of a scan
    newest = first | np.r_[True, band[1:] != band[:-1]]  # of a scan and band
    skipped = [
        Skipped(str(resolve(root, p)), "duplicate of a newer file of the same scan and band")
        for p in gather(paths, np.sort(order[~newest]))[0].to_pylist()
    ]
    order, band, first = order[newest], band[newest], first[newest]
    scan = np.cumsum(first) - 1
    column = np.full(17, -1)
    column[[band_number(b) for b in cfg.bands]] = np.arange(len(cfg.bands))
    files = np.full((scan[-1] + 1, len(cfg.bands)), -1, np.int64)
    files[scan, column[band]] = order
    table = ScanTable(
        cfg.sector, tuple(cfg.bands), names.start[order[first]], names.satellite[order[first]],
        files, paths, root,
    )  # fmt: skip
    table = table.take(np.lexsort((table.satellite, table.start)))
    complete = (table.files >= 0).all(1)
    for r in np.flatnonzero(~complete):
        missing = [b for b, f in zip(cfg.bands, table.files[r], strict=True) if f < 0]
        label = Scan(SATELLITES[table.satellite[r]], cfg.sector, table.start[r].item(), {}).label
        skipped.append(Skipped(label, f"incomplete scan: missing {','.join(missing)}"))
    return table.take(np.flatnonzero(complete)), skipped
