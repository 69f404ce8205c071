"""Synthetic archives and stores built by the real stages at test size, read back independently of
the data stage, and the preprocessing command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def write_synthetic(
    root: Path,
    first_day: str,
    last_day: str,
    every_hours: int,
    hours: tuple[int, ...] | None = None,
    **spec,
) -> Path:
    """A synthetic G17 M1 archive under ``root`` (``spec``: other ArchiveSpec fields)."""
    from datetime import date, datetime, timedelta
    from datetime import time as clock

    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive

    start = datetime.combine(date.fromisoformat(first_day), clock())
    end = datetime.combine(date.fromisoformat(last_day), clock(23, 59))
    every = timedelta(hours=every_hours)
    write_archive(ArchiveSpec(root=root, start=start, end=end, every=every, hours=hours, **spec))
    return root


def preprocess_here(archive: Path, out: Path, years: str, **settings) -> Path:
    """The preprocessing stage in this process (one rank), default config plus ``settings``."""
    from mpi4py import MPI

    from hpc_vqvae.preprocess import load_config
    from hpc_vqvae.preprocess.pipeline import run

    cfg = load_config(None, {"archive": archive, "output": out, "years": years, **settings})
    run(cfg, MPI.COMM_WORLD)
    return out


def build_store(root: Path, first_day: str, last_day: str, *when, **spec) -> Path:
    """A synthetic archive under root/abi (``when`` and ``spec`` as ``write_synthetic``'s),
    preprocessed in this process into root/store.zarr: the real stages, at test size."""
    write_synthetic(root / "abi", first_day, last_day, *when, **spec)
    years = ",".join(str(y) for y in range(int(first_day[:4]), int(last_day[:4]) + 1))
    return preprocess_here(root / "abi", root / "store.zarr", years)


def load_store(path: Path):
    """A store's whole dataset, decoded by xarray, in memory."""
    import xarray as xr

    with xr.open_zarr(path, consolidated=False) as ds:
        return ds.load()


def raw(store: Path, name: str, item: dict, patch: int) -> np.ndarray:
    """The store's ``name`` under the crop of a dataset item (before augmentation), read
    independently of the data stage."""
    import zarr

    t, y0, x0 = (int(item[k]) for k in ("time_index", "y0", "x0"))
    return zarr.open_group(store, mode="r")[name][t, y0 : y0 + patch, x0 : x0 + patch]


def expected_mask(store: Path, item: dict, patch: int, bands: list[str], sza_max: float):
    finite = np.all([np.isfinite(raw(store, b, item, patch)) for b in bands], axis=0)
    return finite & (raw(store, "sza", item, patch) < sza_max)


def preprocess_cmd(*args, ranks: int | None = None, mpiexec: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "hpc_vqvae.preprocess", *map(str, args)]
    return cmd if ranks is None else [mpiexec, "-n", str(ranks), *cmd]


def run_preprocess(*args, ranks=None, mpiexec=None, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HDF5_USE_FILE_LOCKING="FALSE")
    out = subprocess.run(
        preprocess_cmd(*args, ranks=ranks, mpiexec=mpiexec),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out
