"""Prediction feeds the model what training saw: a store made with non-default grid settings
(no DQF masking, 90% valid pixels per 2 km mean) trains a model whose checkpoint carries those
settings, and prediction on the archive brings the scan onto the grid the same way."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from hpc_vqvae.abi.grid import GridSettings, grid_scan
from hpc_vqvae.model.translator import Translator
from hpc_vqvae.predict.sources import find_scan, read_scan
from hpc_vqvae.store import Store
from tests.helpers.stores import preprocess_here
from tests.helpers.training import train_env

from .conftest import BANDS, FLAGGED, HOLES, NIGHT, SETTINGS

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]


def _store_scan(store: Store) -> dict[str, np.ndarray]:
    table = store.table()
    (slot,) = np.flatnonzero(table.time == np.datetime64(f"{NIGHT}:27.5", "ns"))
    return {b: v[0] for b, v in store.scans([slot], BANDS).items()}


def test_the_checkpoint_carries_the_store_settings(trained):
    store_path, run_dir = trained.store, trained.run_dir
    meta = json.loads((run_dir / "generator" / "config.json").read_text())
    assert {k: meta["store"][k] for k in SETTINGS} == SETTINGS
    assert meta["store"]["input_bands"] == BANDS
    assert Translator.load(run_dir, "cpu").grid == GridSettings(**SETTINGS)
    assert Store.open(store_path).grid_settings == GridSettings(**SETTINGS)


def test_prediction_reads_the_scan_as_the_store_holds_it(trained):
    archive, store_path, run_dir = trained.archive, trained.store, trained.run_dir
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
    archive, store_path, run_dir = trained.archive, trained.store, trained.run_dir
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


def test_a_store_made_with_other_settings_is_refused(trained, tmp_path):
    """Its inputs would differ from training's: one line naming both settings, nothing written."""
    other = preprocess_here(
        trained.archive, tmp_path / "defaults.zarr", "2020", input_bands="C05,C13,C14"
    )
    out = tmp_path / "night.zarr"
    cmd = [sys.executable, "-m", "hpc_vqvae.predict", "--checkpoint", str(trained.run_dir)]
    cmd += [
        "--store",
        str(other),
        "--start",
        "2020-05-01",
        "--end",
        "2020-05-03",
        "--output",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert "mask_dqf=True" in line and "mask_dqf=False" in line and str(other) in line
    assert not out.exists()
