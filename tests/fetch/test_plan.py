"""What a fetch wants, as pure functions of the config: the hour folders of each satellite
across the GOES-West handover, and the files of one listing."""

from datetime import date, datetime

import pytest

from hpc_vqvae.abi.names import ABIFileName
from hpc_vqvae.abi.platforms import operational
from hpc_vqvae.errors import ConfigError
from hpc_vqvae.fetch.config import load_config
from hpc_vqvae.fetch.plan import Prefix, prefixes, satellites_of, select


def test_west_is_g17_until_the_handover_then_g18():
    assert operational("west", date(2019, 2, 12)) == "G17"
    assert operational("west", date(2023, 1, 3)) == "G17"
    assert operational("west", date(2023, 1, 4)) == "G18"
    assert operational("east", date(2025, 4, 6)) == "G16"
    assert operational("east", date(2025, 4, 7)) == "G19"


def test_hour_folders_follow_the_operational_satellite(tmp_path):
    cfg = load_config(
        {"dest": tmp_path, "start": "2023-01-03", "end": "2023-01-04", "hours": "18-19"}
    )
    assert [p.path for p in prefixes(cfg)] == [
        "noaa-goes17/ABI-L1b-RadM/2023/003/18/",
        "noaa-goes17/ABI-L1b-RadM/2023/003/19/",
        "noaa-goes18/ABI-L1b-RadM/2023/004/18/",
        "noaa-goes18/ABI-L1b-RadM/2023/004/19/",
    ]
    assert satellites_of(cfg) == {
        "G17": (date(2023, 1, 3), date(2023, 1, 3)),
        "G18": (date(2023, 1, 4), date(2023, 1, 4)),
    }
    years = load_config({"dest": tmp_path, "years": "2020,2022", "sector": "C"})
    assert len(prefixes(years)) == (366 + 365) * 24
    assert prefixes(years)[0].path == "noaa-goes17/ABI-L1b-RadC/2020/001/00/"


def wanted(name: ABIFileName, cfg, satellite: str) -> bool:
    """The selection rule on a parsed name, as select applied it before it screened names by
    slices: the reference select is held to."""
    if (name.satellite, name.sector) != (satellite, cfg.sector):
        return False
    if name.band not in cfg.band_numbers:
        return False
    if cfg.every is not None:
        minute = name.start.hour * 60 + name.start.minute
        return minute % int(cfg.every.total_seconds() // 60) == 0
    return True


def _name(**kw) -> ABIFileName:
    t = kw.pop("start", datetime(2023, 1, 3, 18, 0, 27))
    fields = dict(satellite="G17", sector="M1", start=t, band=13, mode=6, end=t, created=t)
    return ABIFileName(**{**fields, **kw})


def test_one_listing_keeps_sector_band_satellite_and_cadence(tmp_path):
    cfg = load_config({"dest": tmp_path, "years": "2023", "bands": "C13,C02", "every": "10min"})
    assert wanted(_name(), cfg, "G17")
    assert wanted(_name(mode=3), cfg, "G17"), "every scan mode"
    assert not wanted(_name(sector="M2"), cfg, "G17")
    assert not wanted(_name(band=7), cfg, "G17")
    assert not wanted(_name(satellite="G18"), cfg, "G17"), "not the slot's satellite that day"
    assert not wanted(_name(start=datetime(2023, 1, 3, 18, 1, 27)), cfg, "G17"), "cadence"
    listing = [
        {
            "name": f"noaa-goes17/ABI-L1b-RadM/2023/003/18/{_name().name}",
            "size": 9,
            "type": "file",
            "ETag": '"ab"',
        },
        {
            "name": f"noaa-goes17/ABI-L1b-RadM/2023/003/18/{_name(band=7).name}",
            "size": 9,
            "type": "file",
        },
        {"name": "noaa-goes17/ABI-L1b-RadM/2023/003/18/README.txt", "size": 1, "type": "file"},
        {"name": "noaa-goes17/ABI-L1b-RadM/2023/003/18/sub", "size": 0, "type": "directory"},
    ]
    (got,) = select(Prefix("G17", "noaa-goes17/ABI-L1b-RadM/2023/003/18/"), listing, cfg)
    assert got.etag == "ab" and str(got.relative).startswith("ABI-L1b-RadM/2023/003/18/OR_ABI")


@pytest.mark.parametrize("every", [None, "10min", "7min"])
def test_the_screen_keeps_all_the_rule_wants_and_drops_most_of_the_rest(tmp_path, every):
    """select screens names by slices before it parses them: it must select exactly what
    the rule alone (parse, then ``wanted``) selects, over every sector, band, satellite and
    minute of an hour, F and C names too."""
    cfg = load_config({"dest": tmp_path, "years": "2023", "bands": "C13,C02", "every": every})
    names = [
        _name(sector=sector, band=band, satellite=sat, start=datetime(2023, 1, 3, 17, m, 27))
        for sector in ("M1", "M2", "F", "C")
        for band in range(1, 17)
        for sat in ("G17", "G18")
        for m in range(60)
    ]
    folder = "noaa-goes17/ABI-L1b-RadM/2023/003/17/"
    listing = [{"name": folder + n.name, "size": 1, "type": "file"} for n in names]
    for bad in ("s2023003170x275.nc", "s20230032500275_e20230032500275_c20230032500275.nc"):
        listing.append({"name": f"{folder}OR_ABI-L1b-RadM1-M6C13_G17_{bad}", "type": "file"})
    got = select(Prefix("G17", folder), listing, cfg)
    assert [r.key for r in got] == [folder + n.name for n in names if wanted(n, cfg, "G17")]
    step = 1 if every is None else int(every.removesuffix("min"))
    assert len(got) == 2 * sum((17 * 60 + m) % step == 0 for m in range(60))  # M1, G17, 2 bands


@pytest.mark.parametrize(
    "flags, culprit",
    [
        ({}, "--years, or --start and --end"),
        ({"years": "2019", "start": "2019-01-01", "end": "2019-01-02"}, "not both"),
        ({"start": "2019-01-02", "end": "2019-01-01"}, "after --end"),
        ({"years": "2019-20x"}, "--years"),
        ({"years": "2019", "satellite": "G15"}, "--satellite"),
        ({"years": "2019", "bands": "C99"}, "C99"),
        ({"years": "2019", "bands": "C13,c14,13"}, "--bands: duplicate bands C13"),
        ({"years": "2019", "sector": "M3"}, "--sector"),
    ],
)
def test_bad_flags_are_one_line(tmp_path, flags, culprit):
    with pytest.raises(ConfigError) as err:
        load_config({"dest": tmp_path, **flags})
    assert culprit in str(err.value) and "\n" not in str(err.value)
