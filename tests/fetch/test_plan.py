"""What a fetch wants, as pure functions of the config: the hour folders of each satellite
across the GOES-West handover, and the files of one listing."""

from datetime import date, datetime

import pytest

from hpc_vqvae.abi.names import ABIFileName
from hpc_vqvae.abi.platforms import operational
from hpc_vqvae.errors import ConfigError
from hpc_vqvae.fetch.config import load_config
from hpc_vqvae.fetch.plan import Prefix, prefixes, satellites_of, select, wanted


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
