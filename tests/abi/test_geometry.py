"""Geometry beyond the meso samples: the whole disk (off-disk mask), both slots, sun zenith."""

from datetime import datetime, timedelta

import numpy as np
import pytest

from hpc_vqvae.abi.geometry import fixed_grid_lonlat, fixed_grid_sun_zenith, sun_zenith
from hpc_vqvae.abi.projection import FixedGridProjection
from hpc_vqvae.abi.synthetic.sectors import FULL_DISK_EDGE


@pytest.mark.parametrize("satellite", ["G16", "G17"])
def test_full_disk_against_proj(satellite):
    pyproj = pytest.importorskip("pyproj")
    proj = FixedGridProjection.nominal(satellite)
    step = 56e-6 * 16  # every 16th 2 km pixel of the full disk
    x = FULL_DISK_EDGE + step / 2 + np.arange(int(2 * -FULL_DISK_EDGE / step)) * step
    y = -x
    lon, lat = fixed_grid_lonlat(x, y, proj)
    h = proj.perspective_point_height
    geos = pyproj.Proj(
        proj="geos",
        h=h,
        lon_0=proj.longitude_of_projection_origin,
        a=proj.semi_major_axis,
        b=proj.semi_minor_axis,
        sweep="x",
    )
    xx, yy = np.meshgrid(x * h, y * h)
    ref_lon, ref_lat = geos(xx, yy, inverse=True)
    off = ~np.isfinite(ref_lon) | (np.abs(ref_lon) > 360)
    assert off.any() and (~off).any()
    assert np.array_equal(np.isnan(lon), off)
    assert np.nanmax(np.abs((lon - ref_lon + 180) % 360 - 180)[~off]) < 1e-6
    assert np.nanmax(np.abs(lat - ref_lat)[~off]) < 1e-6


def test_sun_zenith_against_pyorbital():
    astronomy = pytest.importorskip("pyorbital.astronomy")
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180, 180, 2000)
    lat = rng.uniform(-80, 80, 2000)
    worst = 0.0
    for days in rng.uniform(0, 365.25 * 15, 12):
        when = datetime(2017, 1, 1) + timedelta(days=float(days))
        ours = sun_zenith(when, lon, lat)
        worst = max(worst, float(np.max(np.abs(ours - astronomy.sun_zenith_angle(when, lon, lat)))))
    assert worst < 0.01
    print(f"\nmax |sza - pyorbital| over 2017-2032: {worst:.1e} deg")


def test_subsolar_point_is_zenith():
    when = datetime(
        2021, 3, 20, 12, 0
    )  # near the equinox: equation of time -7.5 min puts the sun over lon +1.9
    assert sun_zenith(when, np.array([1.9]), np.array([0.0]))[0] < 0.3


@pytest.mark.parametrize("satellite", ["G16", "G17"])
def test_fixed_grid_sun_zenith_equals_the_lonlat_route(satellite):
    """The stage's direct formula gives sun_zenith(t, lon, lat) over the whole disk, at times
    that put the sun on the day side, the night side and the terminator."""
    proj = FixedGridProjection.nominal(satellite)
    step = 56e-6 * 16
    x = FULL_DISK_EDGE + step / 2 + np.arange(int(2 * -FULL_DISK_EDGE / step)) * step
    y = -x[::-1]
    lon, lat = fixed_grid_lonlat(x, y, proj)
    for hour in (0, 5, 11, 17, 21):
        when = np.datetime64(f"2020-06-21T{hour:02d}:17:31")
        direct = fixed_grid_sun_zenith(x, y, when, proj)
        want = sun_zenith(when, lon, lat)
        assert np.array_equal(np.isnan(direct), np.isnan(lon))
        assert np.nanmax(np.abs(direct - want)) < 1e-6
