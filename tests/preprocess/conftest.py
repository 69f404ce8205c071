import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.abi.synthetic.sectors import scan_times

REPO = Path(__file__).resolve().parents[2]
START, END = (2019, 12, 31), (2020, 1, 1)  # two years, 16 scans every 3 h


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """A synthetic G17 M1 archive spanning the turn of 2019/2020: 8 scans in each year."""
    from datetime import datetime, timedelta

    root = tmp_path_factory.mktemp("abi")
    start = datetime(*START)
    end = datetime(*END) + timedelta(days=1, microseconds=-1)
    spec = ArchiveSpec(root=root, start=start, end=end, every=timedelta(hours=3))
    assert len(scan_times(start, end, "M1", spec.every, None)) == 16
    write_archive(spec)
    return root


@pytest.fixture(scope="session")
def config_file(tmp_path_factory) -> Path:
    """Small shards (3 scans) so that a 16-scan store has several, one of them partial."""
    path = tmp_path_factory.mktemp("cfg") / "preprocess.yaml"
    text = (REPO / "configs" / "preprocess.yaml").read_text()
    path.write_text(text.replace("scans_per_shard: 8", "scans_per_shard: 3"))
    return path


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


def load_store(path: Path) -> xr.Dataset:
    with xr.open_zarr(path, consolidated=False) as ds:
        return ds.load()
