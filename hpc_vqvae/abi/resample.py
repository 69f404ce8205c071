"""Block means onto a coarser fixed grid (0.5 or 1 km -> 2 km).

ABI's fine grids nest exactly in the 2 km one, so a 2 km pixel is the mean of the factor x
factor finer pixels it covers: no interpolation, no resampler. Block sums add the factor^2
strided sub-images, several times faster than a reduction over tiny axes.
"""

from __future__ import annotations

from functools import reduce

import numpy as np


def block_sum(a: np.ndarray, factor: int) -> np.ndarray:
    parts = [a[i::factor, j::factor] for i in range(factor) for j in range(factor)]
    return reduce(np.add, parts[1:], parts[0].copy())


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
    data = values.astype(np.float32, copy=factor == 1 and valid is not None)
    if factor == 1:
        if valid is not None:
            data[~valid] = np.nan
        return data
    if valid is None:
        return block_sum(data, factor) / np.float32(factor * factor)
    count = block_sum(valid.astype(np.float32), factor)
    total = block_sum(np.where(valid, data, np.float32(0)), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_valid, mean, np.float32(np.nan))


def coarse_coord(coord: np.ndarray, factor: int) -> np.ndarray:
    """Pixel-centre coordinates of the coarse grid: the mean of each run of ``factor``."""
    return coord.reshape(-1, factor).mean(axis=1)
