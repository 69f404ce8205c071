import numpy as np
import pytest

from hpc_vqvae.data import PatchDataset, split_days, val_day_positions
from hpc_vqvae.store import ScanTable


def table(days: int, per_day: int = 4, written=None, day_fraction=None) -> ScanTable:
    start = np.datetime64("2021-03-01T00:00", "ns")
    step = np.timedelta64(24 // per_day, "h")
    time = start + step * np.arange(days * per_day)
    n = len(time)
    return ScanTable(
        time=time,
        written=np.ones(n, np.int8) if written is None else np.asarray(written, np.int8),
        day_fraction=np.ones(n, np.float32) if day_fraction is None else day_fraction,
        grid_shape=(500, 500),
    )


def test_val_days_are_evenly_spaced():
    assert val_day_positions(10, 0.2).tolist() == [2, 7]
    assert val_day_positions(3, 0.2).tolist() == [1]  # max(1, round(0.6)) = 1: the middle
    assert val_day_positions(100, 0.1).tolist() == list(range(5, 100, 10))


def test_one_day_or_no_training_day_is_refused():
    with pytest.raises(ValueError, match="1 day"):
        val_day_positions(1, 0.2)
    with pytest.raises(ValueError, match="leaves none to train"):
        val_day_positions(2, 0.8)


def test_split_keeps_whole_days_and_daytime_written_scans():
    n = 10 * 4
    written = np.ones(n, np.int8)
    written[[0, 13]] = [0, -1]
    day = np.ones(n, np.float32)
    day[[1, 22]] = [0.0, np.nan]
    t = table(10, written=written, day_fraction=day)
    s = split_days(t, 0.2)
    days = t.time.astype("datetime64[D]")
    assert set(days[s.train]).isdisjoint(days[s.val])
    assert set(days[s.val]) == set(s.val_days) == {days[8], days[28]}
    assert not {0, 1, 13, 22} & (set(s.train) | set(s.val))
    assert len(s.train) + len(s.val) == n - 4
    assert np.array_equal(split_days(t, 0.2).train, s.train)


def test_days_come_from_written_scans_only():
    written = np.zeros(12, np.int8)
    written[:4] = 1  # only the first of three days is written
    with pytest.raises(ValueError, match="1 day"):
        split_days(table(3, written=written), 0.2)


def test_store_split_shares_no_day(make_cfg, store):
    import zarr

    train, val = PatchDataset(make_cfg(), "train"), PatchDataset(make_cfg(), "val")
    day = train.times.astype("datetime64[D]")
    assert set(day[train.scans]).isdisjoint(day[val.scans])
    assert [str(d) for d in val.val_days] == ["2020-06-02"]  # the middle of three days
    fraction = zarr.open_group(store, mode="r")["day_fraction"][:]
    assert (fraction[train.scans] > 0).all() and (fraction[val.scans] > 0).all()
    assert len(train.scans) + len(val.scans) == (fraction > 0).sum() < len(fraction)
