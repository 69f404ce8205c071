"""Where crops go: random anywhere, random among all-daytime windows, or on a fixed grid;
and the dihedral augmentation (flips and quarter turns) applied to a crop's arrays."""

from __future__ import annotations

import math

import numpy as np


def random_origin(rng: np.random.Generator, shape: tuple[int, int], patch: int) -> tuple[int, int]:
    """A uniform top-left corner of a ``patch`` x ``patch`` window inside ``shape``."""
    y0 = int(rng.integers(shape[0] - patch + 1))
    x0 = int(rng.integers(shape[1] - patch + 1))
    return y0, x0


def daytime_origins(sza: np.ndarray, patch: int, sza_max: float) -> np.ndarray:
    """Flat indices (into the grid of top-left corners) of the windows that are all daytime.

    Exact: a summed-area table counts the night (or NaN) pixels of every window at once, so
    choosing among these is rejection sampling that never gives up on a scan with a small
    daytime corner, and never keeps drawing in a scan that has none.
    """
    night = ~(sza < sza_max)
    table = np.zeros((night.shape[0] + 1, night.shape[1] + 1), np.int64)
    table[1:, 1:] = night.cumsum(0).cumsum(1)
    counts = (
        table[patch:, patch:]
        - table[:-patch, patch:]
        - table[patch:, :-patch]
        + table[:-patch, :-patch]
    )
    return np.flatnonzero(counts == 0)


def pick_daytime_origin(
    rng: np.random.Generator, origins: np.ndarray, shape: tuple[int, int], patch: int
) -> tuple[int, int]:
    """A uniform choice among ``daytime_origins`` (non-empty)."""
    flat = int(origins[rng.integers(len(origins))])
    y0, x0 = divmod(flat, shape[1] - patch + 1)
    return y0, x0


def grid_origins(shape: tuple[int, int], patch: int, n: int) -> list[tuple[int, int]]:
    """``n`` fixed corners on an evenly spaced grid (row-major); one crop sits at the centre."""
    cols = math.isqrt(n - 1) + 1  # ceil(sqrt(n))
    rows = -(-n // cols)

    def axis(size: int, count: int) -> np.ndarray:
        if count == 1:
            return np.array([(size - patch) // 2])
        return np.round(np.linspace(0, size - patch, count)).astype(int)

    ys, xs = axis(shape[0], rows), axis(shape[1], cols)
    return [(int(y), int(x)) for y in ys for x in xs][:n]


def draw_dihedral(rng: np.random.Generator) -> int:
    """One of the 8 symmetries of the square: quarter turns (k % 4), then a flip (k >= 4)."""
    return int(rng.integers(8))


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """Apply symmetry ``k`` to the last two axes of ``x`` (a view; copy before torch)."""
    x = np.rot90(x, k % 4, axes=(-2, -1))
    return np.flip(x, axis=-1) if k >= 4 else x
