"""Prediction feeds the model what training saw: a store made with non-default grid settings
(no DQF masking, 90% valid pixels per 2 km mean) trains a model whose checkpoint carries those
settings, and prediction on the archive brings the scan onto the grid the same way."""

from __future__ import annotations

import subprocess
import sys

import netCDF4
import numpy as np
import pytest
import torch
import xarray as xr

from hpc_vqvae.abi.grid import GridSettings, grid_scan
from hpc_vqvae.abi.names import walk_archive
from hpc_vqvae.predict.sources import find_scan, read_scan
from hpc_vqvae.predict.translator import Translator
from hpc_vqvae.store import Store
from tests.helpers import preprocess_here, run_trainer, small_run, train_env, write_synthetic

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]

BANDS = ["C05", "C13", "C14"]  # C05 is 1 km: its 2 km means depend on min_valid_fraction
SETTINGS = {"mask_dqf": False, "min_valid_fraction": 0.9}
NIGHT = "2020-05-02T08:00"
FLAGGED = (slice(200, 210), slice(200, 210))  # C13 pixels with DQF 2 (kept: mask_dqf false)
HOLES = np.arange(100, 120)  # 2 km pixels (i, i) with one of their four C05 pixels missing


def _damage(archive) -> None:
    """Flag C13 pixels and blank single C05 pixels of the night scan, as real scans have."""
    for entry in walk_archive(archive, years=[2020], sectors=["M1"]):
        n = entry.name
        if f"{n.start:%Y-%m-%dT%H:%M}" != NIGHT or n.band not in (5, 13):
            continue
        with netCDF4.Dataset(entry.path, "r+") as ds:
            var = ds["DQF" if n.band == 13 else "Rad"]
            var.set_auto_maskandscale(False)
            values = var[:]
            if n.band == 13:
                values[FLAGGED] = 2
            else:
                values[2 * HOLES, 2 * HOLES] = var.getncattr("_FillValue")
            var[:] = values


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    archive = write_synthetic(
        root / "abi", "2020-05-01", "2020-05-02", 2, (8, 18, 20, 22), bands=(1, 2, 3, 5, 13, 14)
    )
    _damage(archive)
    store = preprocess_here(
        archive, root / "store.zarr", "2020", input_bands=",".join(BANDS), **SETTINGS
    )
    run_dir = root / "run"
    bands = f"data.input_bands=[{','.join(BANDS)}]"
    run_trainer(1, "none", small_run(store, 2, bands, "train.val_batches=1"), run_dir)
    return archive, store, run_dir


def _store_scan(store: Store) -> dict[str, np.ndarray]:
    table = store.table()
    (slot,) = np.flatnonzero(table.time == np.datetime64(f"{NIGHT}:27.5", "ns"))
    return {b: v[0] for b, v in store.scans([slot], BANDS).items()}


def test_the_checkpoint_carries_the_store_settings(trained):
    _, store_path, run_dir = trained
    meta = torch.load(run_dir / "generator.pt", weights_only=False)
    assert {k: meta["store"][k] for k in SETTINGS} == SETTINGS
    assert meta["store"]["input_bands"] == BANDS
    assert Translator.load(run_dir, "cpu").grid == GridSettings(**SETTINGS)
    assert Store.open(store_path).grid_settings == GridSettings(**SETTINGS)


def test_prediction_reads_the_scan_as_the_store_holds_it(trained):
    archive, store_path, run_dir = trained
    in_store = _store_scan(Store.open(store_path))
    assert np.isfinite(in_store["C13"][FLAGGED]).all(), "flagged pixels kept (mask_dqf false)"
    assert np.isnan(in_store["C05"][HOLES, HOLES]).all(), "3 of 4 pixels < 90%: no mean"
    model = Translator.load(run_dir, "cpu")
    files = find_scan(archive, np.datetime64(NIGHT).astype(object), "G17", "M1", BANDS)
    fed = read_scan(files, model.input_bands, model.grid).bands
    for band in BANDS:
        np.testing.assert_array_equal(fed[band], in_store[band], err_msg=band)
    # the defaults would have fed it something else: the settings are what makes them agree
    default = grid_scan(files, BANDS, GridSettings()).bands
    assert (
        np.isnan(default["C13"][FLAGGED]).all() and np.isfinite(default["C05"][HOLES, HOLES]).all()
    )


def test_predict_output_is_invalid_exactly_where_training_inputs_were(trained, tmp_path):
    archive, store_path, run_dir = trained
    out = tmp_path / "night.nc"
    cmd = [sys.executable, "-m", "hpc_vqvae.predict", "--checkpoint", str(run_dir)]
    cmd += ["--archive", str(archive), "--time", NIGHT, "--output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    in_store = _store_scan(Store.open(store_path))
    valid = np.all([np.isfinite(v) for v in in_store.values()], axis=0)
    assert (~valid).sum() >= len(HOLES)
    with xr.open_dataset(out) as ds:
        for c in "RGB":
            np.testing.assert_array_equal(np.isfinite(ds[c].values), valid, err_msg=c)
