"""Raw store values under a crop, read independently of the data stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr


def raw(store: Path, name: str, item: dict, patch: int) -> np.ndarray:
    """The store's ``name`` under the crop of a dataset item (before augmentation)."""
    t, y0, x0 = (int(item[k]) for k in ("time_index", "y0", "x0"))
    return zarr.open_group(store, mode="r")[name][t, y0 : y0 + patch, x0 : x0 + patch]


def expected_mask(store: Path, item: dict, patch: int, bands: list[str], sza_max: float):
    finite = np.all([np.isfinite(raw(store, b, item, patch)) for b in bands], axis=0)
    return finite & (raw(store, "sza", item, patch) < sza_max)
