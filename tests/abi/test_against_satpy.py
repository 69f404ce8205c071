"""Acceptance against the peer: satpy (calibration, area lon/lat) and pyorbital (sun zenith),
on every real GOES-17 file in ../shared/abi-samples. The figures are printed (pytest -s)."""

import warnings

import numpy as np
import pytest

from hpc_vqvae.abi import lonlat, parse_name, read_band, solar_zenith
from hpc_vqvae.abi.bands import band_name
from tests.helpers.real import sample_files

satpy = pytest.importorskip("satpy")
astronomy = pytest.importorskip("pyorbital.astronomy")


def _satpy_band(path, band: int):
    from satpy import Scene

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scn = Scene(reader="abi_l1b", filenames=[str(path)])
        name = band_name(band)
        scn.load([name], calibration="brightness_temperature" if band >= 7 else "reflectance")
        data = scn[name]
        values = data.values.astype(np.float64)
        lons, lats = data.attrs["area"].get_lonlats()
    return (values if band >= 7 else values / 100.0), lons, lats


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name[:40] + p.name[44:60])
def test_reader_matches_satpy(path, sample_dir):
    band = parse_name(path).band
    ours = read_band(path, mask_dqf=False)
    ref, ref_lon, ref_lat = _satpy_band(path, band)
    values = ours.values.astype(np.float64)

    assert ours.dtype == np.float32 and ours.dims == ("y", "x")
    assert np.array_equal(np.isnan(values), np.isnan(ref)), "NaN masks differ from satpy"
    cal_err = float(np.nanmax(np.abs(values - ref)))
    assert cal_err <= (1e-3 if band >= 7 else 1e-4)

    lon, lat = lonlat(ours)
    assert np.array_equal(np.isnan(lon), ~np.isfinite(ref_lon)), "off-disk masks differ"
    dist = np.fmax(np.abs((lon - ref_lon + 180.0) % 360.0 - 180.0), np.abs(lat - ref_lat))
    p999, worst = float(np.nanpercentile(dist, 99.9)), float(np.nanmax(dist))
    assert p999 <= 1e-3 and worst <= 0.05

    when = np.datetime64(ours.attrs["time"]).astype("datetime64[us]").item()
    ref_sza = astronomy.sun_zenith_angle(when, lon, lat)
    sza_err = float(np.nanmax(np.abs(solar_zenith(ours).values - ref_sza)))
    assert sza_err <= 0.01

    print(
        f"\nACCEPT {path.name[:44]} max|cal-satpy|={cal_err:.2e} "
        f"lonlat p99.9={p999:.1e} max={worst:.1e} deg, max|sza-pyorbital|={sza_err:.1e} deg"
    )


def test_all_samples_present(sample_dir):
    """Guards the parametrised test above against passing on an empty sample folder."""
    assert len(sample_files()) == 31
