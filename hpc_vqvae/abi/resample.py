"""Block means onto a coarser fixed grid (0.5 or 1 km -> 2 km).

ABI's fine grids nest exactly in the 2 km one, so a 2 km pixel is the mean of the factor x
factor finer pixels it covers: no interpolation, no resampler. Block sums add every factor-th
row, then every factor-th column of that: 2 x factor passes over shrinking arrays, 3x faster
than adding the factor^2 sub-images and 8x faster than a reduction over tiny axes.
"""

from __future__ import annotations

import numpy as np


def block_sum(a: np.ndarray, factor: int) -> np.ndarray:
    """float32 sums of factor x factor blocks (exact for counts: 16 x 65535 < 2**24)."""
    rows = a[0::factor].astype(np.float32)
    for i in range(1, factor):
        rows += a[i::factor]
    out = rows[:, 0::factor].copy()
    for j in range(1, factor):
        out += rows[:, j::factor]
    return out


def block_mean(
    values: np.ndarray, factor: int, min_valid: int = 1, valid: np.ndarray | None = None
) -> np.ndarray:
    """float32 mean of each block over its valid pixels (``valid``, or the finite ones);
    NaN where fewer than ``min_valid`` are valid.

    Integer counts are summed in float32 exactly (16 counts of 16 bits stay below 2**24),
    so averaging counts and calibrating after is exact for the linear (reflective) bands.
    """
    if values.shape[0] % factor or values.shape[1] % factor:
        raise ValueError(f"shape {values.shape} does not divide into {factor}x{factor} blocks")
    if valid is None and values.dtype.kind == "f":
        missing = np.isnan(values)
        valid = ~missing if missing.any() else None
    elif valid is not None and valid.all():
        valid = None
    if factor == 1:
        data = values.astype(np.float32, copy=valid is not None)
        if valid is not None:
            data[~valid] = np.nan
        return data
    if valid is None:
        return block_sum(values, factor) / np.float32(factor * factor)
    count = block_sum(valid, factor)
    total = block_sum(np.where(valid, values.astype(np.float32, copy=False), np.float32(0)), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_valid, mean, np.float32(np.nan))


def coarse_coord(coord: np.ndarray, factor: int) -> np.ndarray:
    """Pixel-centre coordinates of the coarse grid: the mean of each run of ``factor``."""
    return coord.reshape(-1, factor).mean(axis=1)
