"""Names parsed as columns agree with ``parse_name``, one name at a time."""

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from hpc_vqvae.abi.listing import parse_names, problems, read_listing, stamp_times
from hpc_vqvae.abi.names import SATELLITES, SECTORS, ABINameError, format_stamp, parse_name


def test_stamps_become_the_times_parse_name_reads():
    rng = np.random.default_rng(0)
    seconds = rng.integers(0, 40 * 365 * 86400, 2000).tolist()  # 2000-2040: leap years
    times = [
        datetime(2000, 1, 1) + timedelta(seconds=int(s), milliseconds=100 * (s % 10))
        for s in seconds
    ]
    times += [datetime(2020, 12, 31, 23, 59, 59, 900000), datetime(2024, 2, 29, 12)]  # day 366
    stamps = np.array([int(format_stamp(t)) for t in times])
    assert stamp_times(stamps).tolist() == times


def test_each_name_is_parsed_or_refused_as_parse_name_does():
    good = [
        "ABI-L1b-RadM/2020/366/23/OR_ABI-L1b-RadM2-M6C16_G18_s20203662359599_e20203662359599_c20210010000001.nc",
        "/abs/OR_ABI-L1b-RadF-M3C01_G16_s20190010000275_e20190010010275_c20190010010300.nc",
        "OR_ABI-L1b-RadC-M4C07_G19_s20250600000000_e20250600000000_c20250600000000.nc",
    ]
    bad = [
        "README.nc",
        "OR_ABI-L1b-RadM1-M6C13_G17_s20230032512275_e20230032512300_c20230032512300.nc",  # hour 25
        "OR_ABI-L1b-RadM1-M6C17_G17_s20230030012275_e20230030012300_c20230030012300.nc",  # band 17
        "OR_ABI-L1b-RadM1-M6C13_G17_s20230000012275_e20230030012300_c20230030012300.nc",  # day 0
        "OR_ABI-L1b-RadM3-M6C13_G17_s20230030012275_e20230030012300_c20230030012300.nc",
        "OR_ABI-L1b-RadM1-M6C13_G17_s20230030012275_e20230030012300_c20230030012300.nc.part",
    ]
    ok, cols = parse_names(pa.array(good + bad, pa.large_string()))
    assert ok.tolist() == [True] * len(good) + [False] * len(bad)
    assert len(cols.start) == len(good)
    for i, path in enumerate(good):
        name = parse_name(path)
        assert (SATELLITES[cols.satellite[i]], SECTORS[cols.sector[i]]) == (
            name.satellite,
            name.sector,
        )
        assert (cols.band[i], cols.start[i].item()) == (name.band, name.start)
        assert cols.created[i] == int(format_stamp(name.created))
    why = problems(bad)
    for path, reason in zip(bad, why, strict=True):
        try:
            parse_name(path)
        except ABINameError as err:
            assert reason == str(err) != ""


def test_a_listing_yields_its_nc_paths_as_written(tmp_path):
    listing = tmp_path / "find.txt"
    listing.write_text("a/\n  a/b.nc \n\n/abs/c.nc\r\nd.nc.part\n" + "x/" * 40 + "e.nc\n")
    paths = [p for block in read_listing(listing) for p in block.to_pylist()]
    assert paths == ["a/b.nc", "/abs/c.nc", "x/" * 40 + "e.nc"]
    manifest = tmp_path / "dest" / "fetch-manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text('{"key": "k", "path": "ABI/f.nc", "size": 3}\n{"path": "/abs/g.nc"}\n')
    paths = [p for block in read_listing(manifest) for p in block.to_pylist()]
    assert paths == [f"{manifest.parent}/ABI/f.nc", "/abs/g.nc"]
