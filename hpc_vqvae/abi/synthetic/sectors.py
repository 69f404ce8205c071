"""Where sectors sit on the fixed grid, when they are scanned, and how meso sectors move."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..bands import ANGLE_STEP_2KM, SECTOR_SHAPE_2KM

# West edge of the full-disk fixed grid (radians); every sector's edges lie on its 2 km lattice.
FULL_DISK_EDGE = -0.151872

# Top-left corner (x west edge, y north edge, radians) of each sector's home position.
# M1 is where NOAA put GOES-17 M1 on 2019-10-27 (northern California); CONUS positions are
# approximate.
HOME = {
    "F": (FULL_DISK_EDGE, -FULL_DISK_EDGE),
    "C": (-0.101332, 0.128212),
    "M1": (0.02464, 0.11536),
    "M2": (-0.05936, 0.07616),
}

# Seconds after the slot at which a scan starts, and how long each band's scan lasts.
START_OFFSET_S = {"F": 20.3, "C": 17.6, "M1": 27.5, "M2": 57.5}
SCAN_LENGTH_S = {"F": 600.0 * 0.95, "C": 270.0, "M1": 5.7, "M2": 5.7}
BAND_EXTRA_S = {6: 0.6, 9: 0.6, 12: 0.6, 15: 0.6, 7: 1.2, 10: 1.2, 13: 1.2, 16: 1.2}
CADENCE = {
    "F": timedelta(minutes=10),
    "C": timedelta(minutes=5),
    "M1": timedelta(minutes=1),
    "M2": timedelta(minutes=1),
}


@dataclass(frozen=True)
class ScanFrame:
    """The 2 km pixel box of one scan on the full-disk lattice, and its scan start."""

    sector: str
    start: datetime
    col0: int  # column of the west edge on the full-disk 2 km lattice
    row0: int  # row of the north edge
    shape_2km: tuple[int, int]

    def centres(self, factor: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre scan angles (x, y) of a band with ``factor`` native pixels per 2 km."""
        step = ANGLE_STEP_2KM / factor
        ny, nx = self.shape_2km
        x_edge = FULL_DISK_EDGE + self.col0 * ANGLE_STEP_2KM
        y_edge = -FULL_DISK_EDGE - self.row0 * ANGLE_STEP_2KM
        x = x_edge + (np.arange(nx * factor) + 0.5) * step
        y = y_edge - (np.arange(ny * factor) + 0.5) * step
        return x, y

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x west, x east), (y north, y south)) edges in radians."""
        ny, nx = self.shape_2km
        x0 = FULL_DISK_EDGE + self.col0 * ANGLE_STEP_2KM
        y0 = -FULL_DISK_EDGE - self.row0 * ANGLE_STEP_2KM
        return (x0, x0 + nx * ANGLE_STEP_2KM), (y0, y0 - ny * ANGLE_STEP_2KM)


def _home_index(sector: str) -> tuple[int, int]:
    x0, y0 = HOME[sector]
    col = round((x0 - FULL_DISK_EDGE) / ANGLE_STEP_2KM)
    row = round((-FULL_DISK_EDGE - y0) / ANGLE_STEP_2KM)
    return col, row


def home_frame(sector: str) -> ScanFrame:
    """The sector at its home position (the time is not used)."""
    col, row = _home_index(sector)
    return ScanFrame(sector, datetime(2000, 1, 1), col, row, SECTOR_SHAPE_2KM[sector])


def frame_for(sector: str, start: datetime, seed: int) -> ScanFrame:
    """Mesoscale sectors move: each scan lies up to ~80 px (2 km) from home, drifting by day
    and jittering by scan, deterministically for the seed. F and C do not move."""
    col, row = _home_index(sector)
    if sector.startswith("M"):
        day = np.random.default_rng([seed, 0x5EC7, start.toordinal()])
        scan = np.random.default_rng([seed, 0x5CA2, int(start.timestamp())])
        col += int(day.integers(-60, 61) + scan.integers(-20, 21))
        row += int(day.integers(-60, 61) + scan.integers(-20, 21))
    return ScanFrame(sector, start, col, row, SECTOR_SHAPE_2KM[sector])


def scan_times(
    start: datetime, end: datetime, sector: str, every: timedelta | None, hours: list[int] | None
) -> list[datetime]:
    """Scan start times from ``start`` to ``end`` (inclusive of that day) at the cadence."""
    step = every or CADENCE[sector]
    if step < CADENCE[sector] or step % CADENCE[sector]:
        raise ValueError(
            f"--every {step} is not a multiple of the {sector} cadence {CADENCE[sector]}"
        )
    offset = timedelta(seconds=START_OFFSET_S[sector])
    slot = datetime(start.year, start.month, start.day)
    times = []
    while slot <= end:
        if hours is None or slot.hour in hours:
            times.append(slot + offset)
        slot += step
    return times
