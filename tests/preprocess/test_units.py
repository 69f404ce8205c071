"""The stage's parts on their own: statistics, dealing, catalog filters, config."""

import json
import os
from datetime import datetime, timedelta

import numpy as np
import pytest

from hpc_vqvae.preprocess.catalog import build_catalog
from hpc_vqvae.preprocess.config import ConfigError, load_config
from hpc_vqvae.preprocess.parallel import deal
from hpc_vqvae.preprocess.writer import _time_chunks
from hpc_vqvae.store import stats


def test_statistics_combine_like_one_pass():
    rng = np.random.default_rng(0)
    parts = [rng.normal(280, 20, n) for n in (1, 1000, 0, 37)]
    parts[2] = np.array([np.nan])
    total = stats.reduce_in_order(np.array([stats.partial(p) for p in parts]))
    allv = np.concatenate([p[np.isfinite(p)] for p in parts])
    s = stats.summary(total, False)
    assert s["count"] == allv.size
    assert np.isclose(s["mean"], allv.mean(), rtol=1e-14) and np.isclose(
        s["std"], allv.std(), rtol=1e-12
    )
    assert (s["min"], s["max"]) == (allv.min(), allv.max())


def test_deal_balances_shards():
    owned = deal({0: 3, 1: 3, 2: 3, 3: 1, 4: 2}, 2)
    assert sorted(owned[0] + owned[1]) == [0, 1, 2, 3, 4]
    loads = [sum({0: 3, 1: 3, 2: 3, 3: 1, 4: 2}[s] for s in o) for o in owned]
    assert abs(loads[0] - loads[1]) <= 1
    assert deal({0: 5}, 3) == [[0], [], []]


def test_time_chunks_end_on_shard_boundaries():
    assert _time_chunks(0, 7, 3) == (3, 3, 1)
    assert _time_chunks(7, 7, 3) == (2, 3, 2)
    assert _time_chunks(6, 3, 3) == (3,)


def test_catalog_filters(archive, tmp_path):
    def cat(**kw):
        cfg = load_config(None, {"archive": archive, "output": tmp_path / "s.zarr", **kw})
        return build_catalog(cfg)

    assert len(cat(years="2019-2020").scans) == 16
    assert [s.start.year for s in cat(years="2020").scans] == [2020] * 8
    assert {s.start.hour for s in cat(years="2019,2020", hours="0-5").scans} == {0, 3}
    assert {s.start.hour for s in cat(years="2019-2020", every="360min").scans} == {0, 6, 12, 18}
    assert cat(years="2019-2020", satellite="G16").scans == []
    scan = cat(years="2020").scans[0]
    assert scan.start == datetime(2020, 1, 1, 0, 0, 27, 500000)
    assert sorted(scan.files) == ["C01", "C02", "C03", "C11", "C13", "C14"]
    assert scan.start - cat(years="2019").scans[-1].start == timedelta(hours=3)


@pytest.mark.parametrize(
    "overrides,culprit",
    [
        ({"years": "2019-20x"}, "--years"),
        ({"input_bands": "C11,C99"}, "C99"),
        ({"input_bands": "C11,C13,11"}, "--input-bands: duplicate bands C11"),
        ({"target_bands": "C13"}, "both input and target"),
        ({"every": "5sec"}, "--every"),
        ({"sector": "M3"}, "--sector"),
        ({"years": None}, "years"),
    ],
)
def test_config_errors_name_the_culprit(tmp_path, overrides, culprit):
    base = {"archive": tmp_path, "output": tmp_path / "s.zarr", "years": "2019"}
    with pytest.raises(ConfigError) as err:
        load_config(None, {**base, **overrides})
    assert culprit in str(err.value) and "\n" not in str(err.value)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("satellite: G17\nscans_per_shard: 0\nnot_a_key: 1\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad, {"archive": tmp_path, "output": tmp_path / "s", "years": "2019"})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml", {})


def test_renamed_key_is_read_for_one_release(tmp_path):
    """day_sza_max (85 deg, statistics and day_fraction) is now stats_sza_max: an old config
    file still works, with a warning; giving both names is refused."""
    flags = {"archive": tmp_path, "output": tmp_path / "s.zarr", "years": "2019"}
    old = tmp_path / "old.yaml"
    old.write_text("satellite: G17\nday_sza_max: 80.0\n")
    with pytest.warns(FutureWarning, match="day_sza_max is renamed stats_sza_max"):
        assert load_config(old, flags).stats_sza_max == 80.0
    both = tmp_path / "both.yaml"
    both.write_text("day_sza_max: 80.0\nstats_sza_max: 85.0\n")
    with pytest.raises(ConfigError, match="day_sza_max is the old name of stats_sza_max"):
        load_config(both, flags)


def test_slots_of_finds_each_time_in_the_store_and_marks_new_ones():
    from hpc_vqvae.preprocess.pipeline import _slots_of

    old = np.array(["2020-01-02", "2019-12-31", "2020-01-01"], "datetime64[ns]")  # appended
    times = np.array(["2019-12-30", "2019-12-31", "2020-01-01", "2020-01-02", "2020-01-03"])
    slots = _slots_of(times.astype("datetime64[ns]"), old)
    assert slots.tolist() == [-1, 1, 2, 0, -1]
    assert _slots_of(times.astype("datetime64[ns]"), old[:0]).tolist() == [-1] * 5


def _listings(archive, tmp_path):
    """The archive as lfs find lists it (folders too, relative and absolute paths, a file of
    another year) and as fetch's manifest (paths relative to its folder)."""
    files = sorted(archive.rglob("*"))
    listing = tmp_path / "files.txt"
    lines = [str(p.relative_to(archive)) for p in files]
    lines[-1] = str(files[-1])  # absolute
    listing.write_text("\n".join(lines) + "\n\n")
    manifest = tmp_path / "fetch-manifest.jsonl"  # not in the shared archive: beside it
    rows = [{"path": os.path.relpath(p, tmp_path), "key": p.name} for p in files if p.is_file()]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return listing, manifest


def test_a_listing_or_the_manifest_gives_the_walks_catalog(archive, tmp_path, capsys):
    settings = {"archive": archive, "output": tmp_path / "x.zarr", "years": "2020"}
    walked = build_catalog(load_config(None, settings))
    assert len(walked.scans) == 8
    assert f"walk {archive}" in capsys.readouterr().err  # the walk's progress bar
    for listing in _listings(archive, tmp_path):
        listed = build_catalog(load_config(None, {**settings, "catalog": listing}))
        assert listed.scans == walked.scans and listed.skipped == walked.skipped
    with pytest.raises(FileNotFoundError, match="--catalog .*nowhere.txt: no such file"):
        build_catalog(load_config(None, {**settings, "catalog": tmp_path / "nowhere.txt"}))
