"""The store between the stages: its time encoding, its projection record, and stores made
before this layout's renames, which must keep working (open, resume, feed the data stage)."""

from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pytest
import xarray as xr
import zarr

from hpc_vqvae.abi.epoch import J2000
from hpc_vqvae.abi.projection import FixedGridProjection
from hpc_vqvae.data import DataConfig, PatchDataset
from hpc_vqvae.predict.sources import read_batch, select_scans
from hpc_vqvae.store import Store, StoreError, StoreNotFound, layout
from tests.helpers.stores import load_store, preprocess_here


def test_time_is_int64_microseconds_since_j2000(train_store):
    stored = zarr.open_group(train_store, mode="r")["time"]
    assert stored.dtype == np.int64 and stored.attrs["units"].startswith("microseconds since")
    decoded = Store.open(train_store).table().time
    since = (decoded - np.datetime64(J2000, "ns")) // np.timedelta64(1, "us")
    np.testing.assert_array_equal(stored[:], since)
    assert all(str(t).endswith(":27.500000000") for t in decoded)  # ABI's .5 s starts, exact


def test_projection_record_is_what_the_files_hold(train_store):
    store = Store.open(train_store)
    record = store.attrs[layout.PROJECTION]
    assert store.projection() == FixedGridProjection.from_attrs(record)
    assert record == {**FixedGridProjection.nominal("G17").as_attrs()}  # the synthetic files'
    assert store.grid_settings.mask_dqf is True and store.grid_settings.min_valid_fraction == 0.5


def test_what_is_not_a_finished_store_is_refused(tmp_path, train_store):
    with pytest.raises(StoreNotFound, match="does not exist"):
        Store.open(tmp_path / "nowhere.zarr")
    with pytest.raises(StoreError, match="not a Zarr group|not a finished store"):
        Store.open(tmp_path)
    with pytest.raises(StoreError, match="band C05 is not in data store"):
        Store.open(train_store).require_arrays(["C13", "C05"])


def _as_made_before(path) -> None:
    """A store as layout 1 wrote it: no per-scan satellite or projection longitude, the
    satellite as given (G17), ``day_sza_max``, and no ``inverse_flattening`` in the record."""
    _as_layout_3(path)
    for name in (layout.PLATFORM, layout.PROJECTION_LON):
        shutil.rmtree(path / name)
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    attrs = dict(group.attrs)
    attrs["day_sza_max"] = attrs.pop("stats_sza_max")
    attrs[layout.PROJECTION] = {
        k: v for k, v in attrs[layout.PROJECTION].items() if k != "inverse_flattening"
    }
    attrs.update({layout.LAYOUT_KEY: 1, "satellite": "G17"})
    for key in (layout.SATELLITES,):
        attrs.pop(key)
    group.attrs.clear()
    group.attrs.update(attrs)
    layout.consolidate(path)


def _as_layout_3(path) -> None:
    """A store as layout 3 wrote it: no centre longitudes, its per-scan arrays chunked per
    shard (as a store this small has them: one shard a block)."""
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    assert group[layout.WRITTEN].chunks == (group.attrs["scans_per_shard"],)
    shutil.rmtree(path / layout.CENTRE_LON)
    attrs = dict(group.attrs)
    del attrs[layout.SCANS_PER_BLOCK]
    attrs[layout.LAYOUT_KEY] = 3
    group.attrs.clear()
    group.attrs.update(attrs)
    layout.consolidate(path)


def test_a_store_of_layout_3_gives_the_same_table_split_and_statistics(train_store, tmp_path):
    """Without the centre longitudes it works them out from the scan angles: the same days."""
    old = tmp_path / "old.zarr"
    shutil.copytree(train_store, old)
    _as_layout_3(old)
    new, was = Store.open(train_store), Store.open(old)
    assert layout.CENTRE_LON not in was.group and layout.CENTRE_LON in new.group
    a, b = new.table(), was.table()
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.written, b.written)
    np.testing.assert_allclose(a.centre_lon, b.centre_lon, rtol=0, atol=1e-9)
    assert -150 < a.centre_lon.min() <= a.centre_lon.max() < -100  # M1 off the US west coast
    n = len(a.time)
    assert was.statistics_over(range(n), ["C13"]) == new.statistics_over(range(n), ["C13"])
    cfg = DataConfig(
        store=old, patch_size=32, samples_per_epoch=8, test_fraction=0, split_blocks=1,
        buffer_days=0,
    )  # fmt: skip
    assert PatchDataset(cfg, "train")[0]["ir"].shape == (3, 32, 32)
    scans = select_scans(old, datetime(2020, 5, 1), datetime(2020, 5, 3))  # prediction's reads
    batch = read_batch(scans, slice(0, 2), ["C11", "C13", "C14"])
    assert batch.bt.shape[:2] == (2, 3) and np.isfinite(batch.x).all()


def test_a_store_of_layout_1_still_opens_and_feeds_training(train_store, tmp_path):
    old = tmp_path / "old.zarr"
    shutil.copytree(train_store, old)
    _as_made_before(old)
    store = Store.open(old)
    assert layout.identity(store.attrs)["stats_sza_max"] == 85
    assert store.projection().inverse_flattening is None
    n = len(store.table().time)
    assert store.scan_satellites(range(n)) == ["G17"] * n
    assert {p.longitude_of_projection_origin for p in store.scan_projections(range(n))} == {-137.0}
    cfg = DataConfig(
        store=old,
        patch_size=32,
        samples_per_epoch=8,
        test_fraction=0,
        split_blocks=1,
        buffer_days=0,
    )
    item = PatchDataset(cfg, "train")[0]
    assert item["ir"].shape == (3, 32, 32)
    # the preprocessing stage does not resume it: one line, the store untouched
    before = load_store(old)
    with pytest.raises(StoreError, match="store of layout 1"):
        preprocess_here(train_store.parent / "abi", old, "2020", satellite="G17")
    xr.testing.assert_identical(load_store(old), before)


def test_each_scan_records_its_satellite_and_projection(train_store):
    store = Store.open(train_store)
    n = len(store.table().time)
    assert store.scan_satellites(range(n)) == ["G17"] * n  # west in 2020
    lon = zarr.open_group(train_store, mode="r")[layout.PROJECTION_LON][:]
    np.testing.assert_array_equal(lon, -137.0)
    assert store.attrs[layout.SATELLITES]["G17"]["scans"] == n
