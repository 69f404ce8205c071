"""The synthetic archive: NOAA's format exactly, physically coupled scenes, and readable by
read_band and satpy alike."""

import json
import subprocess
import sys
import warnings
from datetime import datetime
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from hpc_vqvae.abi import lonlat, parse_name, read_band, walk_archive
from hpc_vqvae.abi.bands import band_name
from hpc_vqvae.abi.calibration import radiance_from_bt
from hpc_vqvae.abi.geometry import fixed_grid_lonlat, sun_zenith
from hpc_vqvae.abi.projection import FixedGridProjection
from hpc_vqvae.abi.synthetic import (
    ArchiveSpec,
    L1bScan,
    Scene,
    frame_for,
    scan_name,
    write_l1b,
    write_scan,
)
from hpc_vqvae.abi.synthetic.sectors import ScanFrame
from hpc_vqvae.abi.template import band_constants, extract_header, l1b_header, strip_scan
from tests.helpers.real import sample_files

DAY = datetime(2019, 10, 27, 20, 0, 27, 500000)  # the real day sample's scan start
NIGHT = datetime(2019, 10, 27, 10, 0, 27, 500000)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    spec = ArchiveSpec(root=root, start=DAY, end=DAY, bands=tuple(range(1, 17)))
    write_scan(spec, DAY)
    write_scan(ArchiveSpec(root=root, start=NIGHT, end=NIGHT), NIGHT)
    return root


def _files(root: Path, start: datetime) -> dict[int, Path]:
    found = [f for f in walk_archive(root) if f.name and f.name.start == start]
    return {f.name.band: f.path for f in found}


def _json(header: dict) -> str:
    return json.dumps(strip_scan(header))  # keys in file order: attribute order is compared too


@pytest.mark.parametrize("band", [1, *range(3, 17)])
def test_header_is_noaas(archive, band, sample_dir):
    """Everything but per-scan values equals the real NOAA file of the same band: dimensions,
    variables, dtypes, packing, chunks, compression, attributes and their order."""
    real = next(
        f
        for f in sample_files()
        if f.name.startswith(f"OR_ABI-L1b-RadM1-M6C{band:02d}") and "_s20193002000275_" in f.name
    )
    ours = _files(archive, DAY)[band]
    assert _json(extract_header(ours)) == _json(extract_header(real))
    assert parse_name(ours).start == parse_name(real).start
    assert parse_name(ours).end == parse_name(real).end


def test_c02_header_follows_template(archive):
    ours = extract_header(_files(archive, DAY)[2])
    assert ours["dims"]["y"] == ours["dims"]["x"] == 2000
    assert _json(ours) == _json(l1b_header(2) | {"dims": ours["dims"]})


def test_roundtrip_within_quantisation(tmp_path):
    frame = frame_for("M1", DAY, seed=3)
    x, y = frame.centres(2)
    lon, lat = fixed_grid_lonlat(x, y, FixedGridProjection.nominal("G17"))
    scene = Scene(lon, lat, sun_zenith(DAY, lon, lat), np.random.default_rng(1))
    for band in (2, 13):
        field = scene.band(band, np.random.default_rng(band))
        path = write_l1b(
            tmp_path / f"{band}.nc", L1bScan(scan_name("G17", "M1", 6, band, DAY), frame), field
        )
        back = read_band(path).values.astype(np.float64)
        c = band_constants(band)
        if band == 13:  # compare in radiance, where the quantisation step is uniform
            args = (c["planck_fk1"], c["planck_fk2"], c["planck_bc1"], c["planck_bc2"])
            err = np.abs(radiance_from_bt(back, *args) - radiance_from_bt(field, *args))
            assert np.nanmax(err) <= 0.5 * c["scale_factor"] * 1.001
        else:
            k0 = read_band(path).attrs["kappa0"]
            ok = field > 0.001  # the sensor clips negative radiance at count 0
            assert np.max(np.abs(back - field)[ok]) <= 0.5 * c["scale_factor"] * k0 * 1.001


def test_deterministic_and_seeded(tmp_path):
    def rad(root, seed):
        spec = ArchiveSpec(root=root, start=DAY, end=DAY, bands=(13,), seed=seed)
        with netCDF4.Dataset(write_scan(spec, DAY)[0]) as ds:
            return ds["Rad"][...].data.copy(), ds["x"].add_offset

    a, b, c = rad(tmp_path / "a", 0), rad(tmp_path / "b", 0), rad(tmp_path / "c", 1)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert not np.array_equal(a[0], c[0])


def test_meso_sectors_move():
    frames = [frame_for("M1", DAY.replace(minute=m), seed=0) for m in range(5)]
    assert len({(f.col0, f.row0) for f in frames}) > 1
    assert frame_for("F", DAY, 0) == frame_for("F", DAY, 0)


def test_scenes_are_physically_coupled(archive):
    day, night = _files(archive, DAY), _files(archive, NIGHT)
    c13 = read_band(day[13]).values
    red = read_band(day[2]).values.reshape(500, 4, 500, 4).mean(axis=(1, 3))
    corr = np.corrcoef(c13.ravel(), red.ravel())[0, 1]
    assert corr < -0.6, f"cold clouds must be bright: corr(C13, C02) = {corr:.2f}"
    assert 180 < np.nanmin(c13) and np.nanmax(c13) < 330
    ice = read_band(day[11]).values - c13
    assert np.nanmean(ice[c13 < 235]) > np.nanmean(ice[c13 > 280]), "C11-C13 rises over ice"
    night_red = np.abs(read_band(night[2]).values)  # only sensor noise (sigma 0.002) at night
    assert np.nanmean(night_red) < 0.003 and np.nanmax(night_red) < 0.02
    sza = read_band(day[13])
    mu0 = np.cos(np.radians(sun_zenith(np.datetime64(sza.attrs["time"]), *lonlat(sza))))
    assert np.nanmean(red) < np.nanmean(mu0)  # reflectance factor carries cos(sza)


@pytest.mark.parametrize(
    "satellite,sector,mode,limb",
    [("G17", "M1", 6, False), ("G16", "M2", 3, False), ("G18", "M1", 6, True)],
)
def test_satpy_reads_synthetic_like_read_band(tmp_path, satellite, sector, mode, limb):
    satpy = pytest.importorskip("satpy")
    frame = frame_for(sector, DAY, seed=0)
    if limb:  # a sector over the disk's western edge: off-disk pixels, fill and DQF 255
        frame = ScanFrame(sector, DAY, col0=0, row0=2462, shape_2km=(500, 500))
    x, y = frame.centres(2)
    lon, lat = fixed_grid_lonlat(x, y, FixedGridProjection.nominal(satellite))
    scene = Scene(lon, lat, sun_zenith(DAY, lon, lat), np.random.default_rng(0))
    for band in (1, 13):
        name = scan_name(satellite, sector, mode, band, DAY)
        path = write_l1b(
            tmp_path / name.name, L1bScan(name, frame), scene.band(band, np.random.default_rng(0))
        )
        ours = read_band(path, mask_dqf=False)
        assert (ours.attrs["platform"], ours.attrs["sector"], ours.attrs["scan_mode"]) == (
            satellite,
            sector,
            mode,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scn = satpy.Scene(reader="abi_l1b", filenames=[str(path)])
            scn.load(
                [band_name(band)],
                calibration="brightness_temperature" if band > 6 else "reflectance",
            )
            ref = scn[band_name(band)]
            ref_lon, ref_lat = ref.attrs["area"].get_lonlats()
            ref = ref.values / (1.0 if band > 6 else 100.0)
        assert np.array_equal(np.isnan(ours.values), np.isnan(ref))
        assert np.nanmax(np.abs(ours.values - ref)) <= (1e-3 if band > 6 else 1e-4)
        our_lon, our_lat = lonlat(ours)
        assert np.array_equal(np.isnan(our_lon), ~np.isfinite(ref_lon))
        assert limb == bool(np.isnan(ours.values).any())
        assert np.nanmax(np.abs(our_lat - ref_lat)) < 0.05


def test_cli_writes_tree_and_resumes(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "hpc_vqvae.synth",
        "--archive",
        str(tmp_path),
        "--start",
        "2020-02-29",
        "--end",
        "2020-02-29",
        "--every",
        "12h",
        "--bands",
        "C13,C02",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    files = sorted(tmp_path.rglob("*.nc"))
    assert [f.relative_to(tmp_path).parts[:4] for f in files] == [
        ("ABI-L1b-RadM", "2020", "060", h) for h in ("00", "00", "12", "12")
    ]
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert [f.stat().st_mtime_ns for f in files] == mtimes, "a rerun must not rewrite files"


@pytest.mark.parametrize(
    "args,culprit",
    [
        (["--bands", "C01,C17"], "C17"),
        (["--every", "7min", "--sector", "C"], "cadence"),
        (["--start", "2020-13-01"], "2020-13-01"),
        (["--hours", "25"], "--hours"),
    ],
)
def test_cli_bad_input_is_one_clear_line(tmp_path, args, culprit):
    base = {"--archive": str(tmp_path), "--start": "2020-01-01", "--end": "2020-01-01"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    cmd = [sys.executable, "-m", "hpc_vqvae.synth", *[t for kv in base.items() for t in kv]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert culprit in last and "Traceback" not in out.stderr
    assert not list(tmp_path.rglob("*.nc"))
