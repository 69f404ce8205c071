"""Train/validation split by whole UTC days.

Scans minutes apart are nearly the same picture, so a split by scan would validate on
training data; no day is shared. Validation days sit at evenly spaced positions of the sorted
days, so that they span the seasons. Both sets keep only written scans with some daytime:
``day_fraction > 0`` (the share of pixels with sza below the store's ``stats_sza_max``). A
scan that passes but has no daytime below the data config's ``target_sza_max`` yields masked
pixels (pixel mode) or is passed over by the crop sampler (patch mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..store import ScanTable
from ..store.layout import SCAN_WRITTEN


@dataclass(frozen=True)
class Split:
    """Store time indices of each set, ascending, and the validation days."""

    train: np.ndarray  # int64
    val: np.ndarray  # int64
    val_days: np.ndarray  # datetime64[D]


def val_day_positions(n_days: int, val_fraction: float) -> np.ndarray:
    """Positions of max(1, round(val_fraction * n_days)) days, at the centres of equal bins."""
    if n_days < 2:
        raise ValueError(f"the store has {n_days} day(s) of written scans; a split needs two")
    k = max(1, math.floor(val_fraction * n_days + 0.5))
    if k >= n_days:
        raise ValueError(
            f"val_fraction={val_fraction} takes {k} of {n_days} days and leaves none to train on"
        )
    return np.floor((np.arange(k) + 0.5) * n_days / k).astype(np.int64)


def split_days(table: ScanTable, val_fraction: float) -> Split:
    """Split the written scans of ``table`` by UTC day (deterministic, no randomness)."""
    written = table.written == SCAN_WRITTEN
    days = table.time.astype("datetime64[D]")
    unique = np.unique(days[written])
    val_days = unique[val_day_positions(len(unique), val_fraction)]
    usable = written & (table.day_fraction > 0)
    in_val = np.isin(days, val_days)
    return Split(
        train=np.flatnonzero(usable & ~in_val).astype(np.int64),
        val=np.flatnonzero(usable & in_val).astype(np.int64),
        val_days=val_days,
    )
