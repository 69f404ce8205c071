"""The stage run for real: plain python and `mpiexec -n 2`, on real and synthetic archives."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr
import zarr

from hpc_vqvae.abi import read_band
from hpc_vqvae.abi.names import place_in_archive
from hpc_vqvae.outputs import Lock
from hpc_vqvae.store import Store
from tests.helpers.real import REPO, sample_files
from tests.helpers.stores import load_store, preprocess_cmd, run_preprocess

pytestmark = [pytest.mark.slow, pytest.mark.mpi]


def _report(store: Path) -> dict:
    return json.loads(store.with_name(store.name + ".report.json").read_text())


@pytest.fixture(scope="module")
def clean_store(archive, config_file, tmp_path_factory) -> Path:
    """The reference: one process, no MPI launcher."""
    out = tmp_path_factory.mktemp("clean") / "clean.zarr"
    run_preprocess(
        "--years", "2019-2020", "--archive", archive, "--output", out, "--config", config_file
    )
    return out


def test_store_is_cf_and_georeferenced(clean_store):
    """Opened as CF, the store is georeferenced: a grid mapping, per-scan scan angles as
    coordinates, labelled statistics; pyresample builds each scan's area from it alone."""
    from pyresample.utils.cf import load_cf_area

    ds = xr.open_zarr(clean_store, decode_cf=True, chunks=None)  # lazy, without dask
    assert ds.attrs["Conventions"] == "CF-1.11" and ds.C13.attrs["grid_mapping"] in ds
    assert {"fixed_grid_x", "fixed_grid_y"} <= set(ds.coords)
    assert ds.stat.values.tolist() == ["count", "mean", "m2", "min", "max"]
    assert ds.time.dtype == np.dtype("datetime64[ns]") and "units_metadata" in ds.time.attrs
    gm = ds["goes_imager_projection"].attrs
    assert gm["grid_mapping_name"] == "geostationary" and gm["sweep_angle_axis"] == "x"
    assert gm["longitude_of_projection_origin"] == float(ds.projection_longitude[0])
    h = gm["perspective_point_height"]
    written = np.flatnonzero(ds.written.values == 1)
    assert written.size >= 2
    for i in written[[0, -1]]:
        scan = ds.isel(time=i)
        area, _ = load_cf_area(scan, variable="C13", x="fixed_grid_x", y="fixed_grid_y")
        x, y = scan.fixed_grid_x.values, scan.fixed_grid_y.values
        assert area.shape == (ds.sizes["y"], ds.sizes["x"]) and area.crs.to_dict()["proj"] == "geos"
        half = (x[1] - x[0]) / 2
        assert area.area_extent[0] == pytest.approx((x[0] - half) * h, rel=1e-9)
        assert area.area_extent[3] == pytest.approx((y[0] - (y[1] - y[0]) / 2) * h, rel=1e-9)


def test_real_samples(tmp_path, mpiexec, sample_dir):
    """The night scan is written and equals read_band; the day scan lacks C02 and is reported."""
    root = tmp_path / "archive"
    place_in_archive(sample_files(), root)
    out = tmp_path / "real.zarr"
    proc = run_preprocess(
        "--years", "2019", "--archive", root, "--output", out, ranks=2, mpiexec=mpiexec
    )
    ds = load_store(out)
    assert ds.sizes["time"] == 1 and int(ds.written[0]) == 1
    assert str(ds.time.values[0]).startswith("2019-12-01T10:27:27.5")
    night_c13 = next(f for f in sample_files() if "M6C13_" in f.name and "s2019335" in f.name)
    c13 = read_band(night_c13)
    assert np.array_equal(ds.C13[0].values, c13.values, equal_nan=True)
    assert np.array_equal(ds.fixed_grid_x[0].values, c13.x.values)
    assert float(ds.day_fraction[0]) == 0.0 and float(ds.sza.min()) > 90  # a night scan
    for i, band in enumerate(ds.band.values):  # each file's focal-plane record, as read
        f = next(
            f for f in sample_files() if f"M6C{int(band):02d}_" in f.name and "s2019335" in f.name
        )
        want = [read_band(f).attrs[k] for k in ds.focal.values]
        assert np.array_equal(ds.focal_plane[0, i].values, want, equal_nan=True), band
    assert ds.focal_plane.sel(band=13, focal="focal_plane_temperature_max") == np.float32(81.77388)
    proj = ds.attrs["projection"]  # as the files hold it, for mapping the scan angles
    for key, value in proj.items():
        assert value == c13.attrs[key], key
    assert proj["longitude_of_projection_origin"] == -137.0 and proj["sweep_angle_axis"] == "x"
    report = _report(out)
    incomplete = [s for s in report["skipped"] if "incomplete" in s["reason"]]
    assert len(incomplete) == 1 and "2019-10-27T20:00:27" in incomplete[0]["what"]
    assert "missing C02" in incomplete[0]["reason"]
    assert "incomplete scan" in proc.stdout  # summarised at the end


def test_two_ranks_equal_one(archive, config_file, clean_store, tmp_path, mpiexec):
    out = tmp_path / "two.zarr"
    proc = run_preprocess(
        "--years",
        "2019-2020",
        "--archive",
        archive,
        "--output",
        out,
        "--config",
        config_file,
        ranks=2,
        mpiexec=mpiexec,
    )
    a, b = load_store(clean_store), load_store(out)
    xr.testing.assert_identical(a, b)
    assert a.sizes["time"] == 16 and bool((a.written == 1).all())
    assert a.attrs["statistics"]["C13"]["count"] == 16 * 500 * 500
    assert a.attrs["statistics"]["C02"]["daytime_only"] is True
    assert "16/16" in proc.stderr and "preprocess (2 ranks)" in proc.stderr
    assert _report(out)["ranks"] == 2 and _report(out)["written"] == 16
    # the layout: zarr v3, zstd, one scan per chunk, shards of 3 scans, per-scan arrays in
    # blocks of 6, consolidated once
    group = zarr.open_group(out, mode="r")
    c13 = group["C13"]
    assert c13.chunks == (1, 500, 500) and c13.shards == (3, 500, 500)
    assert group["written"].chunks == (6,) and group["fixed_grid_x"].shards == (6, 500)
    assert (a.attrs["scans_per_shard"], a.attrs["scans_per_block"]) == (3, 6)
    # the statistics a training run reduces over the same scans: the same bits
    every = np.flatnonzero(a.written.values == 1)
    assert Store.open(out).statistics_over(every, ["C13", "C02"]) == {
        band: a.attrs["statistics"][band] for band in ("C13", "C02")
    }
    assert "zstd" in json.dumps(c13.metadata.to_dict())
    assert "consolidated_metadata" in json.loads((out / "zarr.json").read_text())
    assert np.issubdtype(a.time.dtype, np.datetime64)
    moved = a.fixed_grid_x.values[:, 0]
    assert len(np.unique(moved)) > 1, "meso sectors move: x differs between scans"


def test_years_filter_then_append(archive, config_file, clean_store, tmp_path, mpiexec):
    out = tmp_path / "grow.zarr"
    args = ["--archive", archive, "--output", out, "--config", config_file]
    run_preprocess("--years", "2019", *args, ranks=2, mpiexec=mpiexec)
    first = load_store(out)
    assert first.sizes["time"] == 8 and set(first.time.dt.year.values) == {2019}
    run_preprocess("--years", "2019-2020", *args, ranks=2, mpiexec=mpiexec)
    assert _report(out)["scans_to_do"] == 8  # only the new year was processed
    xr.testing.assert_identical(load_store(out), load_store(clean_store))


def test_a_catalog_listing_gives_the_walks_store(archive, config_file, clean_store, tmp_path):
    """--catalog (lfs find output here) instead of walking the tree: the same store."""
    listing = tmp_path / "files.txt"
    listing.write_text("".join(f"{p}\n" for p in sorted(archive.rglob("*.nc"))))
    out = tmp_path / "listed.zarr"
    args = ["--archive", archive, "--catalog", listing, "--output", out, "--config", config_file]
    run_preprocess("--years", "2019-2020", *args)
    xr.testing.assert_identical(load_store(out), load_store(clean_store))


def test_bad_files_are_reported_and_skipped(archive, config_file, tmp_path, mpiexec):
    root = tmp_path / "abi"
    shutil.copytree(archive, root)
    files = sorted(root.rglob("*.nc"))
    corrupt = next(f for f in files if "C13" in f.name and "s20200010000" in f.name)
    corrupt.write_bytes(os.urandom(4096))
    truncated = next(f for f in files if "C02" in f.name and "s20200010300" in f.name)
    truncated.write_bytes(truncated.read_bytes()[:100_000])
    missing = next(f for f in files if "C11" in f.name and "s20200010600" in f.name)
    missing.unlink()
    (corrupt.parent / "OR_ABI-L1b-RadM1-garbage.nc").write_bytes(b"x")
    out = tmp_path / "bad.zarr"
    proc = run_preprocess(
        "--years",
        "2020",
        "--archive",
        root,
        "--output",
        out,
        "--config",
        config_file,
        ranks=2,
        mpiexec=mpiexec,
    )
    report = _report(out)
    failed = {f["what"][7:26]: f["reason"] for f in report["failed"]}
    assert corrupt.name in failed["2020-01-01T00:00:27"]
    assert truncated.name in failed["2020-01-01T03:00:27"]
    skipped = [s["reason"] for s in report["skipped"]]
    assert any("missing C11" in r for r in skipped) and any("unparseable" in r for r in skipped)
    ds = load_store(out)
    assert list(ds.written.values) == [-1, -1, 1, 1, 1, 1, 1]  # 06 UTC is not in the store
    assert np.isnan(ds.C13[0].values).all() and np.isfinite(ds.C13[2].values).all()
    assert "failed, unreadable file" in proc.stdout


def _rank_processes(mpiexec_proc: subprocess.Popen) -> dict[int, psutil.Process]:
    ranks = {}
    for child in psutil.Process(mpiexec_proc.pid).children(recursive=True):
        try:
            if "hpc_vqvae.preprocess" in " ".join(child.cmdline()):
                ranks[int(child.environ().get("PMI_RANK", -1))] = child
        except psutil.Error:
            continue
    return ranks


def test_kill_a_rank_then_resume(archive, config_file, clean_store, tmp_path, mpiexec):
    out = tmp_path / "killed.zarr"
    cmd = preprocess_cmd(
        "--years",
        "2019-2020",
        "--archive",
        archive,
        "--output",
        out,
        "--config",
        config_file,
        ranks=2,
        mpiexec=mpiexec,
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        written = np.zeros(0)
        while time.monotonic() < deadline:
            if (out / "written" / "zarr.json").exists():
                try:
                    written = zarr.open_group(out, mode="r")["written"][:]
                except Exception:  # the template may be mid-write
                    written = np.zeros(0)
                if (written == 1).sum() >= 2:
                    break
            time.sleep(0.02)
        ranks = _rank_processes(proc)
        assert 0 < (written == 1).sum() < 16 and 1 in ranks, "could not catch the job mid-run"
        ranks[1].send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    left = zarr.open_group(out, mode="r")["written"][:]
    assert (left != 1).any(), "the job finished before the kill"
    run_preprocess(
        "--years",
        "2019-2020",
        "--archive",
        archive,
        "--output",
        out,
        "--config",
        config_file,
        ranks=2,
        mpiexec=mpiexec,
    )
    assert _report(out)["scans_to_do"] == int((left != 1).sum())
    xr.testing.assert_identical(load_store(out), load_store(clean_store))


def test_store_is_protected_from_bad_requests(archive, config_file, clean_store, tmp_path):
    out = tmp_path / "guarded.zarr"
    shutil.copytree(clean_store, out)
    before = load_store(out)
    args = ["--years", "2019-2020", "--archive", archive, "--output", out, "--config", config_file]
    proc = run_preprocess(*args, "--input-bands", "C13,C14", check=False)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert str(out) in line and "input_bands" in line and "--overwrite" in line
    xr.testing.assert_identical(load_store(out), before)
    run_preprocess(*args, "--input-bands", "C13,C14", "--overwrite")
    assert list(load_store(out).band.values) == [13, 14, 1, 2, 3]


@pytest.mark.parametrize("overwrite", [False, True])
def test_foreign_output_is_never_deleted(archive, tmp_path, overwrite):
    out = tmp_path / "precious"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "thesis.tex").write_text("years of work")
    args = ["--years", "2019", "--archive", archive, "--output", out]
    proc = run_preprocess(*args, *["--overwrite"] * overwrite, check=False)
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and str(out) in line and "did not write" in line
    assert "--overwrite" not in line  # no advice that would delete it
    assert (out / "notes" / "thesis.tex").read_text() == "years of work"


def test_second_writer_is_refused(archive, tmp_path):
    """A live writer's lock refuses a second job, naming it; a dead writer's is taken over."""
    out = tmp_path / "s.zarr"
    args = ["--years", "2019", "--hours", "18", "--archive", archive, "--output", out]
    lock = Lock(out, "--output")
    hold = f"from hpc_vqvae.outputs import Lock; Lock({str(out)!r}, '').acquire(); input()"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not lock.path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc = run_preprocess(*args, check=False)
        line = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and f"pid {holder.pid}" in line and str(out) in line
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    assert lock.path.exists()  # killed: it could not clean up
    run_preprocess(*args)  # its writer is gone, so the lock is stale and taken over
    assert load_store(out).sizes["time"] > 0 and not lock.path.exists()


def test_missing_archive_is_one_line(tmp_path):
    proc = run_preprocess(
        "--years",
        "2019",
        "--archive",
        tmp_path / "nowhere",
        "--output",
        tmp_path / "s.zarr",
        check=False,
    )
    assert proc.returncode == 2 and "nowhere" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s.zarr").exists()


def test_job_script_runs_the_stage(archive, config_file, clean_store, tmp_path, mpiexec):
    """preprocessing/preprocess.sbatch, with mpiexec standing in for srun (Slurm: issue 6)."""
    out = tmp_path / "job.zarr"
    env = dict(
        os.environ,
        YEARS="2019-2020",
        ARCHIVE=str(archive),
        OUTPUT=str(out),
        CONFIG=str(config_file),
        LAUNCHER=f"{mpiexec} -n 2",
        PYTHON=sys.executable,
    )
    script = REPO / "preprocessing" / "preprocess.sbatch"
    proc = subprocess.run(
        ["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    xr.testing.assert_identical(load_store(out), load_store(clean_store))
    env.pop("YEARS")
    proc = subprocess.run(
        ["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "YEARS" in proc.stderr
