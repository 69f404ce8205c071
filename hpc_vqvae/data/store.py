"""Read access to the preprocessed Zarr store: open and check it, and its per-scan table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from ..preprocess import LAYOUT_KEY, LAYOUT_VERSION  # without mpi4py: MPI stays uninitialised


@dataclass(frozen=True)
class ScanTable:
    """One row per time slot of the store (written or not)."""

    time: np.ndarray  # datetime64[ns], scan start (UTC)
    written: np.ndarray  # int8: 1 written, 0 pending, -1 failed
    day_fraction: np.ndarray  # float32, share of pixels with sza < the store's day_sza_max
    grid_shape: tuple[int, int]  # (ny, nx) of one scan


def open_store(path: Path) -> zarr.Group:
    """Open a finished store read-only; a missing path or a foreign folder fails naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"data store {path} does not exist; write it with python -m hpc_vqvae.preprocess"
        )
    try:
        group = zarr.open_group(path, mode="r")
    except Exception as err:  # noqa: BLE001 (any reason it does not open as a Zarr group)
        raise ValueError(f"data store {path}: not a Zarr group ({err})") from None
    if group.attrs.get(LAYOUT_KEY) != LAYOUT_VERSION:
        raise ValueError(
            f"data store {path}: not a finished store of hpc_vqvae.preprocess "
            f"(attribute {LAYOUT_KEY}={group.attrs.get(LAYOUT_KEY)!r})"
        )
    return group


def require_arrays(group: zarr.Group, names: list[str], path: Path) -> None:
    """Every band the config asks for must be a (time, y, x) array of the store."""
    have = set(group.array_keys())
    for name in names:
        if name not in have:
            bands = sorted(k for k in have if k.startswith("C"))
            raise ValueError(f"band {name} is not in data store {path} (it has {bands})")


def scan_table(group: zarr.Group, path: Path) -> ScanTable:
    """The per-scan table; time is decoded by xarray (CF units), once, in the main process."""
    with xr.open_zarr(path, consolidated=False) as ds:
        time = ds["time"].values
    ny, nx = group["sza"].shape[1:]
    return ScanTable(
        time=time,
        written=np.asarray(group["written"][:]),
        day_fraction=np.asarray(group["day_fraction"][:]),
        grid_shape=(int(ny), int(nx)),
    )
