"""GOES-17's cooling anomaly at predict and evaluate time: a scan whose input band's focal
plane ran warm is left out of a store range (the model's data.exclude_warm_focal_plane), as
it is from training, and each command says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import zarr

from hpc_vqvae.abi.bands import band_number
from hpc_vqvae.store import Store
from hpc_vqvae.store import layout as L
from tests.helpers.training import train_env

# the trained fixture's trainer, then predict and evaluate processes: out of make test-fast
pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]

RANGE = ["--start", "2020-05-01T17:00", "--end", "2020-05-02T00:00"]  # 18, 20 and 22 UTC


def _warm_copy(trained, tmp_path):
    """A copy of the training store whose 20 UTC C13 file reported a warm focal plane."""
    store = tmp_path / "store.zarr"
    shutil.copytree(trained.store, store)
    table = Store.open(store).table()
    slot = int(np.flatnonzero(table.time == np.datetime64("2020-05-01T20:00:27.5", "ns"))[0])
    group = zarr.open_group(store, mode="r+")
    column = [int(b) for b in group["band"][:]].index(band_number("C13"))
    record = group[L.FOCAL_PLANE]
    row = record[slot]
    row[column, 2] = 40  # pixels over the threshold, as on a warm night of 2019
    record[slot] = row
    return store, table.time[slot]


def _run(module: str, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", module, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=600)


def test_warm_scans_are_left_out_of_predict_and_evaluate_ranges(trained, tmp_path):
    store, warm = _warm_copy(trained, tmp_path)
    assert Store.open(store).warm_focal_plane(["C13"]).sum() == 1
    out = tmp_path / "night.zarr"
    proc = _run("hpc_vqvae.predict", "--checkpoint", trained.run_dir, "--store", store,
                *RANGE, "--output", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "leaving out 1 scan(s) with a warm focal plane" in proc.stderr
    times = xr.open_zarr(out).time.values
    assert len(times) == 2 and warm not in times
    proc = _run("hpc_vqvae.evaluate", "--checkpoint", trained.run_dir, "--store", store, *RANGE,
                "--in-sample", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "leaving out 1 scan(s) with a warm focal plane" in proc.stderr
    assert json.loads(proc.stdout)["scans"] == 2
    # the flag is what left it out: the range holds those two scans and the flagged one
    with xr.open_zarr(trained.store, consolidated=False) as src:
        span = src.sel(time=slice(*RANGE[1::2]))
        written = span.time.values[span.written.values == 1]
    assert sorted([*times, warm]) == sorted(written)
