"""A small real store for the data stage: 3 days of G17 M1 scans every 3 h (24 scans: day,
night and terminator scans), written by the synthetic archive and the preprocessing stage."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hpc_vqvae.data import DataConfig


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    from mpi4py import MPI

    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
    from hpc_vqvae.preprocess import load_config, run

    root = tmp_path_factory.mktemp("data")
    archive, path = root / "abi", root / "store.zarr"
    spec = ArchiveSpec(
        root=archive,
        start=datetime(2020, 6, 1),
        end=datetime(2020, 6, 3, 23, 59),
        every=timedelta(hours=3),
    )
    write_archive(spec)
    run(load_config(None, {"archive": archive, "output": path, "years": "2020"}), MPI.COMM_WORLD)
    return path


@pytest.fixture
def make_cfg(store):
    """DataConfig on the test store; small crops and epochs unless a test says otherwise."""

    def make(**overrides) -> DataConfig:
        settings = {"store": store, "patch_size": 64, "samples_per_epoch": 32, **overrides}
        return DataConfig(**settings)

    return make
