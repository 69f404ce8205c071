from datetime import datetime
from pathlib import Path

import pytest

from hpc_vqvae.abi import ABINameError, parse_name, walk_archive
from hpc_vqvae.abi.names import format_stamp, parse_stamp, place_in_archive
from tests.helpers.real import sample_files

NAME = "OR_ABI-L1b-RadM1-M6C13_G17_s20193351027275_e20193351027344_c20193351027405.nc"


def test_parse_fields():
    n = parse_name(NAME)
    assert (n.satellite, n.sector, n.mode, n.band) == ("G17", "M1", 6, 13)
    assert n.start == datetime(2019, 12, 1, 10, 27, 27, 500000)  # day 335 of 2019, t = tenths
    assert n.end == datetime(2019, 12, 1, 10, 27, 34, 400000)
    assert n.archive_dir == Path("ABI-L1b-RadM/2019/335/10")


@pytest.mark.parametrize(
    "name",
    [
        NAME,
        "OR_ABI-L1b-RadF-M3C01_G16_s20172400000361_e20172400011128_c20172400011174.nc",
        "OR_ABI-L1b-RadC-M4C16_G19_s20251231235591_e20251231235599_c20260010000037.nc",
        "OR_ABI-L1b-RadM2-M6C02_G18_s20240602359575_e20240602359599_c20240610000030.nc",
    ],
)
def test_round_trip(name):
    assert parse_name(name).name == name
    assert parse_name("/some/dir/" + name).name == name


def test_every_real_sample_round_trips(sample_dir):
    for f in sample_files():
        assert parse_name(f).name == f.name


def test_m1_and_m2_share_radm():
    m2 = parse_name(NAME.replace("RadM1", "RadM2"))
    assert m2.product == parse_name(NAME).product == "ABI-L1b-RadM"
    assert parse_name(NAME.replace("RadM1", "RadF")).product == "ABI-L1b-RadF"


@pytest.mark.parametrize(
    "bad",
    [
        "OR_ABI-L2-CMIPM1-M6C13_G17_s20193351027275_e20193351027344_c20193351027405.nc",
        NAME.replace("C13", "C17"),
        NAME.replace("G17", "G15"),
        NAME.replace("-M6", "-M5"),
        NAME.replace("s2019335", "s2019400"),
        NAME[:-3] + ".h5",
        "README.md",
    ],
)
def test_unknown_names_are_reported(bad):
    with pytest.raises(ABINameError, match="ABI"):
        parse_name(bad)


def test_stamp_tenths():
    t = datetime(2020, 2, 29, 23, 59, 59, 900000)
    assert format_stamp(t) == "20200602359599"
    assert parse_stamp(format_stamp(t)) == t


def test_walk_archive_filters_and_reports(tmp_path, sample_dir):
    placed = place_in_archive(sample_files(), tmp_path)
    assert all(p.is_symlink() and p.exists() for p in placed)
    junk = tmp_path / "ABI-L1b-RadM/2019/335/10/not_an_abi_file.nc"
    junk.write_bytes(b"")
    found = list(walk_archive(tmp_path, years=[2019], sectors=["M1"]))
    assert sum(f.name is not None for f in found) == 31
    assert [f.path for f in found if f.name is None] == [junk]
    assert "not an ABI" in next(f.problem for f in found if f.name is None)
    assert list(walk_archive(tmp_path, years=[2020])) == []
    assert list(walk_archive(tmp_path, sectors=["F"])) == []
