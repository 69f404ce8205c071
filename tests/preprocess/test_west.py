"""``--satellite west`` (the default) across the GOES-West handover: GOES-17 scans up to
2023-01-03 and GOES-18 scans from 2023-01-04 into one store, each recording its satellite and
projection, whatever else the archive holds for those days."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpc_vqvae.abi import read_band
from hpc_vqvae.abi.names import parse_name, place_in_archive
from hpc_vqvae.store import Store
from tests.helpers.stores import load_store, run_preprocess

pytestmark = [pytest.mark.slow, pytest.mark.mpi]


def test_west_takes_g17_then_g18_into_one_store(handover, tmp_path, mpiexec):
    archive = tmp_path / "abi"
    files = [p for tree in handover.values() for p in sorted(tree.rglob("*.nc"))]
    place_in_archive(files, archive)  # both satellites for 2023-01-03 and 2023-01-04
    out = tmp_path / "west.zarr"
    args = ["--years", "2023", "--archive", archive, "--output", out]
    proc = run_preprocess(*args, ranks=2, mpiexec=mpiexec)

    ds = load_store(out)
    days = [str(t)[:10] for t in ds.time.values]
    satellites = [f"G{c}" for c in ds.platform.values]
    assert days == [
        d for d in ("2023-01-02", "2023-01-03", "2023-01-04", "2023-01-05") for _ in (18, 20)
    ]
    assert satellites == ["G17" if d < "2023-01-04" else "G18" for d in days]
    assert (ds.projection_longitude.values == -137.0).all() and (ds.written == 1).all()
    held = ds.attrs["satellites"]
    assert held["G17"]["scans"] == 4 and held["G18"]["scans"] == 4
    assert held["G17"]["last"].startswith("2023-01-03T20") and held["G18"]["first"].startswith(
        "2023-01-04T18"
    )
    assert ds.attrs["satellite"] == "west"
    report = json.loads(out.with_name(out.name + ".report.json").read_text())
    assert set(report["satellites"]) == {"G17", "G18"}
    assert "G17: 4 scans" in proc.stdout and "G18: 4 scans" in proc.stdout

    # a scan after the handover holds GOES-18's file, not GOES-17's of the same minute
    g18 = next(
        f for f in files if parse_name(f).satellite == "G18" and parse_name(f).band == 13
        and parse_name(f).start.isoformat().startswith("2023-01-04T18")
    )  # fmt: skip
    slot = days.index("2023-01-04")
    np.testing.assert_array_equal(ds.C13[slot].values, read_band(g18).values)
    store = Store.open(out)
    assert store.scan_satellites([0, slot]) == ["G17", "G18"]
    assert {p.longitude_of_projection_origin for p in store.scan_projections([0, slot])} == {-137.0}

    # a request for one satellite on an existing west store is refused, naming the difference
    again = run_preprocess(*args, "--satellite", "G18", check=False)
    assert again.returncode == 2 and "satellite='west', not 'G18'" in again.stderr
