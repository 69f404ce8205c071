"""The split: contiguous blocks of whole local solar days, validation then test at the end of
each block, buffer days between them and training, deterministic."""

import numpy as np
import pytest

from hpc_vqvae.data import PatchDataset, SplitSettings, assign_roles, solar_days, split_days
from hpc_vqvae.data.split import BUFFER, TEST, TRAIN, VAL
from hpc_vqvae.store import ScanTable


def table(days: int, per_day: int = 4, written=None, day_fraction=None, lon=-137.0) -> ScanTable:
    start = np.datetime64("2021-03-01T00:00", "ns")
    step = np.timedelta64(24 // per_day, "h")
    time = start + step * np.arange(days * per_day)
    n = len(time)
    return ScanTable(
        time=time,
        written=np.ones(n, np.int8) if written is None else np.asarray(written, np.int8),
        day_fraction=np.ones(n, np.float32) if day_fraction is None else day_fraction,
        grid_shape=(500, 500),
        centre_lon=np.full(n, lon),
    )


def _days(n: int) -> np.ndarray:
    return np.datetime64("2021-01-01") + np.arange(n).astype("timedelta64[D]")


def test_solar_days_put_the_boundary_at_local_midnight():
    t = np.array(["2021-03-01T08:00", "2021-03-01T10:00", "2021-03-01T23:00"], "datetime64[ns]")
    # at 137 W local midnight is 09:08 UTC: 08:00 UTC is still Feb 28 there, 23:00 is Mar 1
    assert [str(d) for d in solar_days(t, np.full(3, -137.0))] == [
        "2021-02-28", "2021-03-01", "2021-03-01",
    ]  # fmt: skip
    assert [str(d) for d in solar_days(t, np.zeros(3))] == ["2021-03-01"] * 3


def test_blocks_end_with_validation_then_test_and_spread_over_the_year():
    roles = assign_roles(_days(365), SplitSettings(0.1, 0.1, blocks=4, buffer_days=0))
    blocks = np.array_split(np.arange(365), 4)
    for block in blocks:  # each season: training, then ~9 validation days, then ~9 test days
        r = roles[block]
        first_val, first_test = np.argmax(r == VAL), np.argmax(r == TEST)
        assert (r[:first_val] == TRAIN).all() and (r[first_val:first_test] == VAL).all()
        assert (r[first_test:] == TEST).all() and (r == VAL).sum() == (r == TEST).sum() == 9
    assert (roles == VAL).sum() == 36 and (roles == TRAIN).sum() == 365 - 72


def test_buffers_separate_what_is_scored_from_what_trains():
    days = _days(60)
    roles = assign_roles(days, SplitSettings(0.1, 0.1, blocks=2, buffer_days=2))
    train, val, test = (days[roles == r] for r in (TRAIN, VAL, TEST))
    assert len(val) and len(test) and (roles == BUFFER).sum() > 0
    gap = np.abs(train[:, None] - np.concatenate([val, test])[None, :]).min()
    assert gap > np.timedelta64(2, "D")  # no training day within 2 days of a scored one
    assert np.abs(val[:, None] - test[None, :]).min() > np.timedelta64(2, "D")
    again = assign_roles(days, SplitSettings(0.1, 0.1, blocks=2, buffer_days=2))
    assert np.array_equal(roles, again)  # deterministic


def test_a_buffer_as_long_as_the_validation_run_costs_training_days_only():
    """7 validation days right before the test days, all within 7 days of the first test day,
    were all dropped (none left to validate on): the buffer now sits between them, and what
    it costs comes out of training."""
    days = _days(146)
    for buffer in (0, 7):
        roles = assign_roles(days, SplitSettings(0.1, 0.1, blocks=2, buffer_days=buffer))
        assert (roles == VAL).sum() == (roles == TEST).sum() == 14, buffer
        val, test = days[roles == VAL], days[roles == TEST]
        assert np.abs(val[:, None] - test[None, :]).min() > np.timedelta64(buffer, "D")
    with pytest.raises(ValueError, match="cannot hold 7 validation"):  # 1 + 7 + 7 + 7 > 20
        assign_roles(_days(20), SplitSettings(0.35, 0.35, blocks=1, buffer_days=7))


def test_paper_split_on_four_years_of_days():
    """configs/paper.yaml's fractions, blocks and buffer on 2019-2022 (the paper's four years,
    every day present): validation and test days at their fractions, one block a season, no
    training day within buffer_days of a scored day, and most days still train."""
    from hpc_vqvae.train.config import load_config
    from tests.helpers.real import REPO

    s = load_config(REPO / "configs" / "paper.yaml").data.split
    assert s.buffer_days >= 7 and s.blocks == 16
    days = np.arange(np.datetime64("2019-01-01"), np.datetime64("2023-01-01"))
    roles = assign_roles(days, s)
    train, val, test = (days[roles == r] for r in (TRAIN, VAL, TEST))
    assert len(val) == len(test) == 16 * 9  # round(0.1 x 1461 / 16) per block: none lost
    scored = np.concatenate([val, test])
    gap = np.abs(train[:, None] - scored[None, :]).min()
    assert gap > np.timedelta64(s.buffer_days, "D")
    assert np.abs(val[:, None] - test[None, :]).min() > np.timedelta64(s.buffer_days, "D")
    assert len(train) > 0.55 * len(days)
    for block in np.array_split(np.arange(len(days)), s.blocks):  # each block scores
        assert (roles[block] == VAL).any() and (roles[block] == TEST).any()


def test_too_few_days_are_refused():
    with pytest.raises(ValueError, match="1 day"):
        split_days(table(1, lon=0.0), SplitSettings(0.2))
    with pytest.raises(ValueError, match="leave none to train on"):
        split_days(table(4, lon=0.0), SplitSettings(0.3, 0.3, blocks=2))


def test_split_keeps_whole_days_and_daytime_written_scans():
    n = 10 * 4
    written = np.ones(n, np.int8)
    written[[0, 13]] = [0, -1]
    day = np.ones(n, np.float32)
    day[[1, 22]] = [0.0, np.nan]
    t = table(10, written=written, day_fraction=day, lon=0.0)
    s = split_days(t, SplitSettings(0.1, 0.1, blocks=1, buffer_days=0))
    days = t.time.astype("datetime64[D]")
    sets = [set(days[p]) for p in (s.train, s.val, s.test)]
    assert (
        sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2])
    )
    assert sets[1] == {days[32]} and sets[2] == {days[36]}  # the last two days
    assert not {0, 1, 13, 22} & (set(s.train) | set(s.val) | set(s.test))
    assert len(s.train) + len(s.val) + len(s.test) == n - 4
    record = s.record()
    assert record["val_days"] == [str(days[32])] and record["scans"]["test"] == 4


def test_days_come_from_written_scans_only():
    written = np.zeros(12, np.int8)
    written[:4] = 1  # only the first of three days is written
    with pytest.raises(ValueError, match="1 day"):
        split_days(table(3, written=written, lon=0.0), SplitSettings(0.2))


def test_store_split_shares_no_day(make_cfg, store):
    import zarr

    cfg = make_cfg()
    train, val = PatchDataset(cfg, "train"), PatchDataset(cfg, "val")
    split = train.day_split
    day = solar_days(train.times, np.full(len(train.times), -137.0))
    assert set(day[train.scans]).isdisjoint(day[val.scans])
    assert set(day[val.scans]) <= set(split.val_days)
    fraction = zarr.open_group(store, mode="r")["day_fraction"][:]
    assert (fraction[train.scans] > 0).all() and (fraction[val.scans] > 0).all()
    assert len(train.scans) + len(val.scans) <= (fraction > 0).sum() < len(fraction)


def test_the_recorded_split_holds_when_the_store_grows():
    """A store that grows by a year (here: the one before) splits anew: its blocks move, and
    recomputed "test" days fall on days the model trained on. The recorded roles do not move;
    days the record lacks are unseen, except those within the buffer of a training day."""
    from hpc_vqvae.data.split import UNSEEN, recorded_roles

    settings = SplitSettings(val_fraction=0.1, test_fraction=0.1, blocks=4, buffer_days=7)
    trained_on = np.arange("2019-01-01", "2022-01-01", dtype="datetime64[D]")
    grown = np.arange("2018-01-01", "2022-01-01", dtype="datetime64[D]")
    roles = assign_roles(trained_on, settings)
    record = {
        f"{name}_days": [str(d) for d in trained_on[roles == role]]
        for role, name in ((TRAIN, "train"), (VAL, "val"), (TEST, "test"), (BUFFER, "buffer"))
    }
    recomputed = assign_roles(grown, settings)
    old = grown >= np.datetime64("2019-01-01")
    leaked = (recomputed[old] == TEST) & (roles == TRAIN)
    assert leaked.sum() > 30, "the recomputed split scores days the model trained on"

    got = recorded_roles(record, grown, 7)
    assert (got[old] == roles).all()
    new = grown[~old]
    first_train = trained_on[roles == TRAIN].min()
    near = (first_train - new) <= np.timedelta64(7, "D")
    assert (got[~old][near] == BUFFER).all() and near.sum() >= 1
    assert (got[~old][~near] == UNSEEN).all()


def test_the_leak_prone_alternatives_do_what_they_say():
    """UTC days and shuffled days exist to measure a leak (tests/data/test_leak.py): UTC cuts
    a GOES-West afternoon in two; shuffled scatters roles over the period (seeded); the
    record says which clock counted the days, so that evaluate counts them the same way."""
    t = table(6, per_day=8, lon=-120.0)  # 3-hourly: 00, 03 UTC are the previous solar day
    utc = split_days(t, SplitSettings(0.2, 0.2, clock="utc"))
    solar = split_days(t, SplitSettings(0.2, 0.2))
    assert str(utc.days[0]) == "2021-03-01" and str(solar.days[0]) == "2021-02-28"
    assert utc.record()["clock"] == "utc" and solar.record()["clock"] == "solar"
    days = _days(100)
    shuffled = assign_roles(days, SplitSettings(0.1, 0.1, order="shuffled", seed=3))
    assert (shuffled == VAL).sum() == (shuffled == TEST).sum() == 10
    test_days = np.flatnonzero(shuffled == TEST)
    assert np.diff(test_days).max() > 1 and test_days.max() - test_days.min() > 50  # scattered
    again = assign_roles(days, SplitSettings(0.1, 0.1, order="shuffled", seed=3))
    other = assign_roles(days, SplitSettings(0.1, 0.1, order="shuffled", seed=4))
    assert np.array_equal(shuffled, again) and not np.array_equal(shuffled, other)
    buffered = assign_roles(days, SplitSettings(0.1, 0.1, 1, 2, order="shuffled", seed=3))
    assert (buffered == BUFFER).sum() > 0  # the buffer still applies to shuffled days
