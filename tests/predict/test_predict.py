"""Nighttime inference on the real night scan in ../shared/abi-samples with a tiny checkpoint
made by the real trainer."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hpc_vqvae.abi.names import place_in_archive
from tests.helpers import build_store, sample_files

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("predict")
    store = build_store(root, "2020-05-01", "2020-05-02", 2, tuple(range(17, 24)))
    run_dir = root / "run"
    cmd = [
        sys.executable,
        "-m",
        "hpc_vqvae.train",
        "--config",
        str(REPO / "configs" / "tiny.yaml"),
        "--run-dir",
        str(run_dir),
        f"data.store={store}",
        "train.max_steps=3",
        "train.val_every=3",
        "train.batch_size=4",
        "data.val_patches_per_scan=2",
        "train.val_batches=1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def _predict(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpc_vqvae.predict", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def test_real_night_scan(checkpoint, sample_dir, tmp_path):
    archive = tmp_path / "abi"
    place_in_archive(sample_files(), archive)
    out, png = tmp_path / "night.nc", tmp_path / "night.png"
    proc = _predict(
        "--checkpoint",
        checkpoint,
        "--archive",
        archive,
        "--time",
        "2019-12-01T10:27",
        "--output",
        out,
        "--png",
        png,
        "--latlon",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = xr.open_dataset(out)
    assert ds.R.shape == (500, 500) and ds.attrs["ai_generated"] == "true"
    assert ds.R.attrs["grid_mapping"] == "goes_imager_projection"
    assert ds["goes_imager_projection"].attrs["grid_mapping_name"] == "geostationary"
    for c in "RGB":
        assert bool(np.isfinite(ds[c]).all()), "finite wherever the IR is valid (all of it here)"
    assert float(ds.solar_zenith_angle.min()) > 90  # it is night
    assert np.isfinite(ds.lat).all() and abs(float(ds.lat.mean()) - 36.8) < 3
    from pyresample.utils.cf import load_cf_area

    area, _ = load_cf_area(str(out), variable="R")
    assert area.shape == (500, 500) and area.crs.to_dict()["proj"] == "geos"
    h = ds["goes_imager_projection"].attrs["perspective_point_height"]
    assert area.area_extent[0] == pytest.approx((ds.x.values[0] - 28e-6) * h, rel=1e-4)
    assert png.stat().st_size > 10_000


def test_bad_requests_are_one_line(checkpoint, sample_dir, tmp_path):
    archive = tmp_path / "abi"
    place_in_archive(sample_files(), archive)
    proc = _predict(
        "--checkpoint",
        checkpoint,
        "--archive",
        archive,
        "--time",
        "2019-12-01T11:00",
        "--output",
        tmp_path / "x.nc",
    )
    assert (
        proc.returncode == 2
        and "2019-12-01T11:00" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    proc = _predict(
        "--checkpoint",
        tmp_path / "nope",
        "--archive",
        archive,
        "--time",
        "2019-12-01T10:27",
        "--output",
        tmp_path / "x.nc",
    )
    assert proc.returncode == 2 and "generator.pt" in proc.stderr
    assert not (tmp_path / "x.nc").exists()
