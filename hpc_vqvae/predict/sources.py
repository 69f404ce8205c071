"""Where prediction's scans come from: one scan of the L1b archive, brought onto the 2 km grid
as the training store was; or a time range of written scans of a preprocessed store."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ..abi.bands import band_name
from ..abi.grid import GriddedScan, GridSettings, ScanError, grid_scan
from ..abi.names import walk_archive
from ..errors import UsageError
from ..store import Store
from ..store.layout import FIXED_GRID_X, FIXED_GRID_Y, SCAN_WRITTEN, SZA


def parse_time(flag: str, text: str) -> datetime:
    """An ISO time (UTC unless it says otherwise) -> naive UTC, as the archive and store keep it."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: not an ISO time such as 2020-05-01T17:00") from None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


_CLOCK = re.compile(r"(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d+)?")


def parse_end(flag: str, text: str) -> datetime:
    """The last instant of the period ``text`` names, so that an inclusive end given to the
    minute (hour, day) includes the scans starting within it (at 08:00:27 for 08:00)."""
    t = parse_time(flag, text)
    clock = re.split(r"[T ]", text.strip(), maxsplit=1)[1:]
    if not clock:
        return t + timedelta(days=1, microseconds=-1)
    hh, mm, ss, fraction = _CLOCK.match(clock[0]).groups()
    if fraction:
        return t
    step = timedelta(seconds=1) if ss else timedelta(minutes=1) if mm else timedelta(hours=1)
    return t + step - timedelta(microseconds=1)


def iso(t: np.datetime64) -> str:
    """ISO 8601 UTC to the millisecond (scan starts are at .5 s)."""
    return np.datetime_as_string(np.datetime64(t, "ms"), unit="ms") + "Z"


# --- one scan of the archive ------------------------------------------------------------------


def find_scan(archive: Path, when: datetime, satellite: str, sector: str, bands: list[str]) -> dict:
    """The files of the scan starting within the minute of ``when``, by band."""
    if not archive.is_dir():
        raise UsageError(f"--archive {archive}: no such directory")
    files: dict[str, Path] = {}
    for entry in walk_archive(archive, years=[when.year], sectors=[sector]):
        n = entry.name
        near = n is not None and abs(n.start - when) < timedelta(minutes=1)
        if near and (n.satellite, n.sector) == (satellite, sector):
            files[band_name(n.band)] = entry.path
    missing = [b for b in bands if b not in files]
    if missing:
        raise UsageError(
            f"no {satellite} {sector} scan at {when:%Y-%m-%dT%H:%M} with {','.join(missing)} "
            f"in {archive}"
        )
    return files


def read_scan(files: dict[str, Path], bands: list[str], settings: GridSettings) -> GriddedScan:
    """``bands`` of an archive scan on the 2 km grid, under the training store's settings."""
    try:
        return grid_scan(files, bands, settings)
    except ScanError as err:
        raise UsageError(str(err)) from None


# --- a time range of the store ----------------------------------------------------------------


@dataclass(frozen=True)
class StoreRange:
    """The written scans of a store in [start, end], in time order."""

    store: Store
    index: np.ndarray  # positions along the store's time axis
    time: np.ndarray  # datetime64[ns] scan starts

    def without(self, drop: np.ndarray) -> StoreRange:
        return StoreRange(self.store, self.index[~drop], self.time[~drop])


def select_scans(path: Path, start: datetime, end: datetime) -> StoreRange:
    """Written scans of the store at ``path`` whose start is in [start, end]; none is an error."""
    if start > end:
        raise UsageError(
            f"--start {start:%Y-%m-%dT%H:%M:%S} is after --end {end:%Y-%m-%dT%H:%M:%S}"
        )
    store = Store.open(path)
    table = store.table()
    inside = (table.time >= np.datetime64(start, "ns")) & (table.time <= np.datetime64(end, "ns"))
    pick = np.flatnonzero(inside & (table.written == SCAN_WRITTEN))
    if not pick.size:
        span = f"{iso(table.time.min())} .. {iso(table.time.max())}" if table.time.size else "none"
        raise UsageError(
            f"no written scans from {start:%Y-%m-%dT%H:%M:%S} to {end:%Y-%m-%dT%H:%M:%S} "
            f"in {path} (its scans: {span})"
        )
    skipped = int(inside.sum()) - pick.size
    if skipped:
        print(f"skipping {skipped} scan(s) in range not written (see the report)", file=sys.stderr)
    pick = pick[np.argsort(table.time[pick], kind="stable")]  # appended years can be out of order
    return StoreRange(store, pick, table.time[pick])


def warm_scans(scans: StoreRange, bands: list[str]) -> np.ndarray:
    """Which of ``scans`` to leave out: their ``bands`` had a warm focal plane (GOES-17's cooling
    anomaly): the model was not trained on such IR (data.exclude_warm_focal_plane), and its
    output for them would be a guess dressed as a product. Run on rank 0 alone."""
    warm = scans.store.warm_focal_plane(bands, scans.index)
    if warm.all():
        raise UsageError(
            f"all {len(warm)} scans in range have a warm focal plane in {', '.join(bands)} "
            "(GOES-17's cooling anomaly; the model's data.exclude_warm_focal_plane)"
        )
    if warm.any():
        print(
            f"leaving out {int(warm.sum())} scan(s) with a warm focal plane (GOES-17's "
            "cooling anomaly; the model's data.exclude_warm_focal_plane)",
            file=sys.stderr,
        )
    return warm


@dataclass(frozen=True)
class ScanBatch:
    """Consecutive scans of a range, as the store holds them."""

    time: np.ndarray  # (N,) datetime64[ns]
    bt: np.ndarray  # (N, C, H, W) input bands
    sza: np.ndarray  # (N, H, W) solar zenith (deg)
    x: np.ndarray  # (N, nx) scan angles (rad)
    y: np.ndarray  # (N, ny)
    visible: dict[str, np.ndarray] | None = None  # (N, H, W) by band, read for --blend


def read_batch(
    scans: StoreRange, part: slice, bands: list[str], visible: tuple[str, ...] = ()
) -> ScanBatch:
    """Scans ``part`` of the range; with ``visible``, those bands of it too (the observed
    visible that training took its targets from, which ``--blend`` shows by day)."""
    names = [*bands, *visible, SZA, FIXED_GRID_X, FIXED_GRID_Y]
    arrays = scans.store.scans(scans.index[part], names)
    return ScanBatch(
        time=scans.time[part],
        bt=np.stack([arrays[b] for b in bands], axis=1),
        sza=arrays[SZA],
        x=arrays[FIXED_GRID_X],
        y=arrays[FIXED_GRID_Y],
        visible={b: arrays[b] for b in visible} if visible else None,
    )
