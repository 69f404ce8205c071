"""The focal-plane temperature record (GOES-17's cooling anomaly) kept per scan and band."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from hpc_vqvae.store import layout
from tests.helpers.stores import load_store, preprocess_here, write_synthetic


def test_a_warm_focal_plane_is_recorded_per_scan_and_band(tmp_path: Path):
    """A synthetic archive, one scan's C13 file then set as a warm night of 2019 was (112 K
    over a 100 K threshold, 2500 pixels over): the store records that scan's C13 as such and
    every other IR band and scan as cold, and reflective bands as fill (NaN)."""
    archive = write_synthetic(tmp_path / "abi", "2019-09-20", "2019-09-20", 6)
    warm = sorted(archive.rglob("*M6C13_G17_*.nc"))[1]
    with netCDF4.Dataset(warm, "r+") as ds:
        ds["maximum_focal_plane_temperature"][...] = 112.0
        ds["focal_plane_temperature_threshold_exceeded_count"][...] = 2500
    ds = load_store(preprocess_here(archive, tmp_path / "store.zarr", "2019"))
    assert ds.attrs[layout.LAYOUT_KEY] == layout.LAYOUT_VERSION == 5
    fp = ds[layout.FOCAL_PLANE]
    assert fp.dims == ("time", "band", "focal") and list(ds.focal.values) == list(
        layout.FOCAL_PLANE_FIELDS
    )
    bands = [f"C{int(b):02d}" for b in ds.band.values]
    ir = [i for i, b in enumerate(bands) if b in ("C11", "C13", "C14")]
    vis = [i for i, b in enumerate(bands) if b in ("C01", "C02", "C03")]
    assert len(ir) == 3 and len(vis) == 3 and ds.sizes["time"] == 4
    c13 = bands.index("C13")
    stamp = warm.name.split("_s")[1][:11]  # YYYYJJJHHMM of the warm scan
    when = [np.datetime_as_string(t, "m") for t in ds.time.values]
    hit = [i for i, t in enumerate(ds.time.values) if _stamp(t) == stamp]
    assert len(hit) == 1, (stamp, when)
    values = fp.values
    assert values[hit[0], c13].tolist() == [112.0, 100.0, 2500.0]
    cold = np.ones(values.shape[:2], bool)
    cold[hit[0], c13] = False
    cold[:, vis] = False
    assert (values[..., 2][cold] == 0).all() and (values[..., 0][cold] < 90).all()
    assert np.isnan(values[:, vis]).all()


def _stamp(t: np.datetime64) -> str:
    """YYYYJJJHHMM of a time, as an L1b file name has it."""
    from datetime import datetime

    when = datetime.fromisoformat(np.datetime_as_string(t, "s"))
    return when.strftime("%Y%j%H%M")


def test_warm_scans_are_left_out_of_training_and_scoring(tmp_path: Path):
    """The store's record read back per slot (only the input bands count), and a warm scan
    kept out of every set of the split unless data.exclude_warm_focal_plane is off."""
    from hpc_vqvae.data.config import DataConfig
    from hpc_vqvae.data.preflight import open_for_training
    from hpc_vqvae.store import Store

    archive = write_synthetic(tmp_path / "abi", "2019-09-20", "2019-09-23", 2, (18, 20, 22))
    warm = sorted(archive.rglob("*M6C13_G17_*.nc"))[4]
    with netCDF4.Dataset(warm, "r+") as ds:
        ds["focal_plane_temperature_threshold_exceeded_count"][...] = 40
    store = preprocess_here(archive, tmp_path / "store.zarr", "2019")
    flags = Store.open(store).warm_focal_plane(["C11", "C13", "C14"])
    assert flags.sum() == 1 and not Store.open(store).warm_focal_plane(["C11", "C14"]).any()
    slot = int(np.flatnonzero(flags)[0])

    def scored(exclude: bool) -> set[int]:
        cfg = DataConfig(store=store, val_fraction=0.25, test_fraction=0.25, split_blocks=1,
                         buffer_days=0, exclude_warm_focal_plane=exclude)  # fmt: skip
        _, _, split = open_for_training(cfg)
        return {int(i) for i in (*split.train, *split.val, *split.test)}

    assert slot in scored(False) and scored(True) == scored(False) - {slot}
