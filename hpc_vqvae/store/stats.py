"""Per-band statistics that combine exactly, whatever the number of ranks: the preprocessing
stage reduces the store's, the data stage those of the training days only.

Each scan contributes (count, mean, M2, min, max) computed in float64 (the store's
``layout.BAND_STAT_FIELDS``); partials are combined
with Chan et al.'s parallel update in time order, so 1 rank and N ranks give the same bits.
"""

from __future__ import annotations

import numpy as np


def partial(values: np.ndarray) -> np.ndarray:
    """(count, mean, M2, min, max) of the finite values; count 0 gives NaN for the rest."""
    v = values[np.isfinite(values)].astype(np.float64)
    if v.size == 0:
        return np.array([0.0, np.nan, np.nan, np.nan, np.nan])
    mean = v.mean()
    return np.array([v.size, mean, ((v - mean) ** 2).sum(), v.min(), v.max()])


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan's pairwise update of two partials."""
    if a[0] == 0:
        return b.copy()
    if b[0] == 0:
        return a.copy()
    n = a[0] + b[0]
    delta = b[1] - a[1]
    mean = a[1] + delta * b[0] / n
    m2 = a[2] + b[2] + delta**2 * a[0] * b[0] / n
    return np.array([n, mean, m2, min(a[3], b[3]), max(a[4], b[4])])


def reduce_in_order(partials: np.ndarray) -> np.ndarray:
    """Combine partials (..., 5) along the first axis, in order."""
    out = np.array([0.0, np.nan, np.nan, np.nan, np.nan])
    for p in partials:
        out = combine(out, p)
    return out


def summary(total: np.ndarray, daytime_only: bool) -> dict:
    count = int(total[0])
    std = float(np.sqrt(total[2] / count)) if count else float("nan")
    keys = ("mean", "std", "min", "max")
    vals = (float(total[1]), std, float(total[3]), float(total[4]))
    return {"count": count, **dict(zip(keys, vals, strict=True)), "daytime_only": daytime_only}
