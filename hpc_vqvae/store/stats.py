"""Per-band statistics that combine exactly, whatever the number of ranks: the preprocessing
stage reduces the store's, the data stage those of the training days only.

Each scan contributes (count, mean, M2, min, max) computed in float64 (the store's
``layout.BAND_STAT_FIELDS``); partials are combined
with Chan et al.'s parallel update, per block of the store and then over blocks, each in time
order, so 1 rank and N ranks give the same bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EMPTY = np.array([0.0, np.nan, np.nan, np.nan, np.nan])  # no values


def partial(values: np.ndarray) -> np.ndarray:
    """(count, mean, M2, min, max) of the finite values; count 0 gives NaN for the rest."""
    v = values[np.isfinite(values)].astype(np.float64)
    if v.size == 0:
        return EMPTY.copy()
    mean = v.mean()
    return np.array([v.size, mean, ((v - mean) ** 2).sum(), v.min(), v.max()])


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan's pairwise update of partials ``a`` and ``b`` (..., 5), elementwise."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = a[..., 0] + b[..., 0]
    delta = b[..., 1] - a[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = a[..., 1] + delta * b[..., 0] / n
        m2 = a[..., 2] + b[..., 2] + delta**2 * a[..., 0] * b[..., 0] / n
    out = np.stack([n, mean, m2, np.fmin(a[..., 3], b[..., 3]), np.fmax(a[..., 4], b[..., 4])], -1)
    out = np.where((b[..., :1] == 0), a, out)
    return np.where((a[..., :1] == 0), b, out)


def reduce_in_order(partials: np.ndarray) -> np.ndarray:
    """Combine partials (k, ..., 5) along the first axis: neighbours pairwise, level by level
    (a fixed tree over the order given, so the bits depend on the order alone; vectorised,
    and more accurate than a running sum over millions of scans)."""
    p = np.asarray(partials, np.float64)
    if len(p) == 0:
        return np.broadcast_to(EMPTY, p.shape[1:]).copy()
    while len(p) > 1:
        pairs = len(p) // 2 * 2
        p = np.concatenate([combine(p[0:pairs:2], p[1:pairs:2]), p[pairs:]])
    return p[0]


def block_totals(
    positions: np.ndarray, block: int, read: Callable[[int], np.ndarray]
) -> dict[int, np.ndarray]:
    """block -> the partials at store ``positions`` in that block, reduced; ``read(b)`` gives
    block b's partials (block, ..., 5). One block is held at a time."""
    positions = np.unique(positions)
    blocks, first = np.unique(positions // block, return_index=True)
    bounds = [*first[1:], len(positions)]
    return {
        int(b): reduce_in_order(read(int(b))[positions[i:j] - b * block])
        for b, i, j in zip(blocks, first, bounds, strict=True)
    }


def over_blocks(totals: dict[int, np.ndarray]) -> np.ndarray | None:
    """The blocks' totals reduced in block order (None: no block): whether one rank reduced
    every block or each of N ranks its own, the bits are the same."""
    return reduce_in_order(np.array([totals[b] for b in sorted(totals)])) if totals else None


def summary(total: np.ndarray, daytime_only: bool) -> dict:
    count = int(total[0])
    std = float(np.sqrt(total[2] / count)) if count else float("nan")
    keys = ("mean", "std", "min", "max")
    vals = (float(total[1]), std, float(total[3]), float(total[4]))
    return {"count": count, **dict(zip(keys, vals, strict=True)), "daytime_only": daytime_only}
