"""Nighttime inference with the tiny checkpoint of ``conftest.trained``: the real night scan in
../shared/abi-samples, and time ranges of a store."""

import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from hpc_vqvae.abi.names import place_in_archive
from hpc_vqvae.abi.projection import FixedGridProjection
from hpc_vqvae.model.translator import Translator
from hpc_vqvae.store import Store
from tests.helpers.real import cf_errors, sample_files
from tests.helpers.training import train_env

from .conftest import BANDS, REGISTERED

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]
# the one error CF 1.11 finds that stays: scan angles in rad, as in NOAA's own L1b files
ANGLE_UNITS = re.compile(
    r'^Units "rad" for variable (fixed_grid_)?[xy] must be convertible to canonical units'
)


@pytest.fixture(scope="module")
def checkpoint(trained):
    return trained.run_dir


def _predict(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpc_vqvae.predict", *map(str, args)],
        capture_output=True,
        text=True,
        env=train_env(),
        timeout=600,
    )


def test_real_night_scan(checkpoint, sample_dir, tmp_path):
    archive = tmp_path / "abi"
    place_in_archive(sample_files(), archive)
    out, png = tmp_path / "night.nc", tmp_path / "night.png"
    proc = _predict(
        "--checkpoint",
        checkpoint,
        "--archive",
        archive,
        "--time",
        "2019-12-01T10:27",
        "--output",
        out,
        "--png",
        png,
        "--latlon",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = xr.open_dataset(out)
    assert ds.R.shape == (500, 500) and ds.attrs["ai_generated"] == "true"
    assert ds.R.attrs["grid_mapping"] == "goes_imager_projection"
    assert ds["goes_imager_projection"].attrs["grid_mapping_name"] == "geostationary"
    for c in "RGB":
        assert bool(np.isfinite(ds[c]).all()), "finite wherever the IR is valid (all of it here)"
    assert float(ds.solar_zenith_angle.min()) > 90  # it is night
    # ... and the imagery is not black: the tiny config's sun-normalised convention is kept
    assert ds.attrs["reflectance_convention"].startswith("reflectance factor / cos")
    assert float(ds.R.std()) > 1e-3 and float(ds.G.mean()) > 0.01
    assert np.isfinite(ds.lat).all() and abs(float(ds.lat.mean()) - 36.8) < 3
    from pyresample.utils.cf import load_cf_area

    area, _ = load_cf_area(str(out), variable="R")
    assert area.shape == (500, 500) and area.crs.to_dict()["proj"] == "geos"
    h = ds["goes_imager_projection"].attrs["perspective_point_height"]
    assert area.area_extent[0] == pytest.approx((ds.x.values[0] - 28e-6) * h, rel=1e-4)
    assert png.stat().st_size > 10_000
    assert ds.lat.dims == ("y", "x") and "lat" in ds.coords and "t" in ds.coords
    assert "--time 2019-12-01T10:27" in ds.attrs["history"]
    assert all(ANGLE_UNITS.search(m) for m in cf_errors(out)), cf_errors(out)


def test_bad_requests_are_one_line(checkpoint, sample_dir, tmp_path):
    archive = tmp_path / "abi"
    place_in_archive(sample_files(), archive)
    proc = _predict(
        "--checkpoint",
        checkpoint,
        "--archive",
        archive,
        "--time",
        "2019-12-01T11:00",
        "--output",
        tmp_path / "x.nc",
    )
    assert (
        proc.returncode == 2
        and "2019-12-01T11:00" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    proc = _predict(
        "--checkpoint",
        tmp_path / "nope",
        "--archive",
        archive,
        "--time",
        "2019-12-01T10:27",
        "--output",
        tmp_path / "x.nc",
    )
    assert proc.returncode == 2 and "no generator export" in proc.stderr
    assert not (tmp_path / "x.nc").exists()


def test_store_range_to_zarr(trained, tmp_path):
    """Three scans in batches of two (the last one short), each with its own meso grid."""
    out = tmp_path / "night.zarr"
    proc = _predict(
        "--checkpoint",
        trained.run_dir,
        "--store",
        trained.store,
        "--start",
        "2020-05-01T17:00",
        "--end",
        "2020-05-02T00:00",
        "--batch-size",
        2,
        "--output",
        out,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ["night.zarr"], "no temporary left behind"
    ds = xr.open_zarr(out)
    src = xr.open_zarr(trained.store, consolidated=False).sel(time=ds.time)
    assert ds.sizes == {"time": 3, "y": 500, "x": 500}
    assert (
        ds.time.dt.day.values.tolist() == [1, 1, 1] and ds.time.to_index().is_monotonic_increasing
    )
    valid = np.all([np.isfinite(src[b]) for b in BANDS], axis=0)
    # the values are the model's on the store's inputs, whatever the batching: the pipeline
    # (normalisation, tiles, masks, convention) adds nothing of its own
    model = Translator.load(trained.run_dir, "cpu")
    want = model.reflectance(np.stack([src[b].values for b in BANDS], axis=1))
    for i, c in enumerate("RGB"):
        assert ds[c].dtype == np.float32 and ds[c].attrs["grid_mapping"] == "goes_imager_projection"
        np.testing.assert_array_equal(np.isfinite(ds[c]).values, valid)
        np.testing.assert_allclose(ds[c].values[valid], want[:, i][valid], rtol=1e-5, atol=1e-6)
        assert 0 <= float(ds[c].min()) and float(ds[c].max()) <= np.float32(1.2)
        # sun-normalised output: named for what it is, without the standard name of
        # reflectance at the scan's own solar geometry
        assert (
            "standard_name" not in ds[c].attrs and "cos(solar zenith)" in ds[c].attrs["long_name"]
        )
    assert ds.attrs["ai_generated"] == "true" and ds.attrs["Conventions"] == "CF-1.11"
    assert ds.attrs["model_checkpoint"] == str(trained.run_dir.resolve())
    proj = ds["goes_imager_projection"].attrs
    assert proj["grid_mapping_name"] == "geostationary"
    assert proj["longitude_of_projection_origin"] == -137.0 and proj["sweep_angle_axis"] == "x"
    from_files = src.attrs["projection"]  # what preprocessing read from the L1b files
    assert all(proj[k] == from_files[k] for k in from_files)
    assert Store.open(trained.store).projection() == FixedGridProjection.from_attrs(from_files)
    nominal = FixedGridProjection.nominal("G17").as_attrs()  # for stores made before the record
    assert nominal.keys() == from_files.keys() and all(
        nominal[k] == pytest.approx(from_files[k]) for k in nominal
    )
    np.testing.assert_array_equal(ds.solar_zenith_angle.values, src.sza.values)
    # the meso sector moved between scans: scan angles per scan, no shared x/y; one scan's
    # angles as its x/y make it mappable
    np.testing.assert_array_equal(ds.fixed_grid_x.values, src.fixed_grid_x.values)
    assert "x" not in ds.coords
    from pyresample.utils.cf import load_cf_area

    scan = ds.isel(time=1)
    area, _ = load_cf_area(scan.assign_coords(x=scan.fixed_grid_x, y=scan.fixed_grid_y), "R")
    h = proj["perspective_point_height"]
    assert area.shape == (500, 500) and area.crs.to_dict()["proj"] == "geos"
    assert area.area_extent[0] == pytest.approx((float(scan.fixed_grid_x[0]) - 28e-6) * h)


def test_range_by_mlflow_run_id(trained, tmp_path):
    """The run id resolves through the real MLflow backend to the run's export; a range of
    one scan has one grid, so it carries CF x/y that pyresample maps."""
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(tracking_uri=trained.tracking_uri).get_run(trained.run_id).data.tags
    assert tags["hpc_vqvae.run_dir"] == str(trained.run_dir.resolve())
    out = tmp_path / "one.zarr"
    proc = _predict(
        "--checkpoint",
        trained.run_id,
        "--tracking-uri",
        trained.tracking_uri,
        "--store",
        trained.store,
        "--start",
        "2020-05-02T20:00",
        "--end",
        "2020-05-02T20:01",
        "--output",
        out,
        "--latlon",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = xr.open_zarr(out)
    assert ds.sizes["time"] == 1 and ds.attrs["mlflow_run_id"] == trained.run_id
    assert ds.attrs["model_checkpoint"] == str(trained.run_dir.resolve())
    assert ds.x.attrs["standard_name"] == "projection_x_coordinate" and ds.lat.dims == ("y", "x")
    from pyresample.utils.cf import load_cf_area

    area, _ = load_cf_area(ds.isel(time=0), variable="R")
    assert area.shape == (500, 500) and area.crs.to_dict()["proj"] == "geos"
    nc = tmp_path / "range.nc"
    args = ["--checkpoint", trained.run_id, "--tracking-uri", trained.tracking_uri]
    args += ["--store", trained.store, "--start", "2020-05-01T18:00", "--end", "2020-05-01T22:00"]
    proc = _predict(*args, "--output", nc, "--latlon")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with xr.open_dataset(nc) as got, xr.open_zarr(trained.store, consolidated=False) as src:
        assert got.time.values.tolist() == src.time.sel(time=got.time).values.tolist()
        assert got.sizes["time"] == 3 and got.lat.dims == ("time", "y", "x")  # moving sectors
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert all(ANGLE_UNITS.search(m) for m in cf_errors(nc)), cf_errors(nc)


def test_bad_ranges_are_one_line(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.zarr"
    proc = _predict(
        "--checkpoint",
        trained.run_dir,
        "--store",
        trained.store,
        "--start",
        "2021-05-01T17:00",
        "--end",
        "2021-05-02T00:00",
        "--output",
        out,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "2021-05-01T17:00" in line and str(trained.store) in line
    proc = _predict(
        "--checkpoint",
        "0123456789abcdef0123456789abcdef",
        "--tracking-uri",
        trained.tracking_uri,
        "--store",
        trained.store,
        "--start",
        "2020-05-01T17:00",
        "--end",
        "2020-05-02T00:00",
        "--output",
        out,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "no such MLflow run" in proc.stderr
    # the rest in this process: the same main(), without another interpreter start
    from hpc_vqvae.predict import main

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    base = {
        "--checkpoint": str(trained.run_dir),
        "--store": str(trained.store),
        "--start": "2020-05-01",
        "--end": "2020-05-02",
        "--output": str(out),
    }
    cases = {
        "does not exist": {"--store": str(tmp_path / "nope.zarr")},
        "not an ISO time": {"--start": "yesterday"},
        "is after --end": {"--start": "2020-05-03"},
        "written as *.zarr or *.nc": {"--output": str(tmp_path / "x.tif")},
        "needs --tracking-uri": {"--checkpoint": "0123456789abcdef0123456789abcdef"},
    }
    for expected, change in cases.items():
        assert main([a for kv in {**base, **change}.items() for a in kv]) == 2, expected
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_outputs_replace_only_predictions(trained, tmp_path):
    """--end to the minute takes that minute's scan; --overwrite replaces an earlier
    prediction, and a user's folder or file survives it."""
    out = tmp_path / "one.zarr"
    args = ["--checkpoint", trained.run_dir, "--store", trained.store]
    args += ["--start", "2020-05-01T20:00"]
    proc = _predict(*args, "--end", "2020-05-01T20:00", "--output", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (scan,) = xr.open_zarr(out).time.values
    assert scan > np.datetime64("2020-05-01T20:00"), "a scan starting after the minute began"
    again = [*args, "--end", "2020-05-01T22:00", "--output", out]
    proc = _predict(*again)
    assert proc.returncode == 2 and "pass --overwrite" in proc.stderr
    assert _predict(*again, "--overwrite").returncode == 0
    assert xr.open_zarr(out).sizes["time"] == 2
    theirs = tmp_path / "precious.zarr"
    (theirs / "notes").mkdir(parents=True)
    (theirs / "notes" / "thesis.tex").write_text("years of work")
    thesis_nc = tmp_path / "thesis.nc"
    xr.Dataset({"v": ("x", [1.0])}).to_netcdf(thesis_nc)
    for target, extra in [(theirs, []), (out, ["--png", thesis_nc])]:
        proc = _predict(*again[:-1], target, *extra, "--overwrite")
        line = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and "did not write" in line and "--overwrite" not in line
    assert (theirs / "notes" / "thesis.tex").read_text() == "years of work"
    assert xr.open_dataset(thesis_nc).v.values.tolist() == [1.0]


def test_the_mlflow_model_is_predict(trained, tmp_path, capsys):
    """The logged pyfunc (loaded by MLflow alone) gives predict's values on the store's
    inputs; predict takes it as runs:/ and as the registry's models:/NAME/1."""
    import mlflow

    mlflow.set_tracking_uri(trained.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/generator")
    (spec,) = pyfunc.metadata.get_input_schema().inputs
    assert spec.shape == (-1, len(BANDS), -1, -1) and spec.type == np.float32
    with xr.open_zarr(trained.store, consolidated=False) as src:
        day = src.isel(time=np.flatnonzero(src.written.values == 1)[:2])
        bt = np.stack([day[b].values for b in BANDS], axis=1).astype(np.float32)
    got = pyfunc.predict(bt)
    model = Translator.load(trained.run_dir, "cpu")  # what --checkpoint RUN_DIR predicts with
    want = model.reflectance(bt)
    valid = np.isfinite(bt).all(axis=1, keepdims=True) & np.ones((1, 3, 1, 1), bool)
    assert got.shape == want.shape and np.isnan(got[~valid]).all()
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-5, atol=1e-6)

    args = ["--tracking-uri", trained.tracking_uri, "--store", trained.store]
    args += ["--start", "2020-05-01T18:00", "--end", "2020-05-01T22:00"]
    outs = []
    for uri in (f"runs:/{trained.run_id}/generator", f"models:/{REGISTERED}/1"):
        outs.append(tmp_path / f"{uri.split(':')[0]}.zarr")
        proc = _predict("--checkpoint", uri, *args, "--output", outs[-1])
        assert proc.returncode == 0, proc.stderr[-3000:]
    runs, models = (xr.open_zarr(out) for out in outs)
    src = xr.open_zarr(trained.store, consolidated=False).sel(time=runs.time)
    # as --checkpoint RUN_DIR predicts it (test_store_range_to_zarr)
    want = model.reflectance(np.stack([src[b].values for b in BANDS], axis=1))
    valid = np.all([np.isfinite(src[b]) for b in BANDS], axis=0)
    assert runs.sizes["time"] >= 2 and valid.any()
    for i, c in enumerate("RGB"):
        np.testing.assert_array_equal(models[c], runs[c])
        np.testing.assert_array_equal(np.isfinite(runs[c]).values, valid)
        np.testing.assert_allclose(runs[c].values[valid], want[:, i][valid], rtol=1e-5, atol=1e-6)
    from hpc_vqvae.predict import main  # in this process: a missing version is one line

    missing = f"models:/{REGISTERED}/7"
    argv = ["--checkpoint", missing, *args, "--output", tmp_path / "x.zarr"]
    assert main([str(a) for a in argv]) == 2
    assert missing in capsys.readouterr().err.strip().splitlines()[-1]
