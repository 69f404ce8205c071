"""Persistent weather in the synthetic archive: systems that last days, drawn the same for any
scan that sees them, whose opaque thickness the infrared cannot see (what makes a leak
between neighbouring days visible to a model)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from hpc_vqvae.abi.bands import band_number
from hpc_vqvae.abi.reader import read_band
from hpc_vqvae.abi.synthetic import ArchiveSpec, Scene, write_archive
from hpc_vqvae.abi.synthetic.archive import _weather
from hpc_vqvae.abi.synthetic.weather import LIFE_DAYS, Weather

T0 = datetime(2019, 6, 10, 20)


def _grid(weather: Weather, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    lon0, lat0 = weather.home
    lat, lon = np.meshgrid(
        np.linspace(lat0 + 5, lat0 - 5, n), np.linspace(lon0 - 6, lon0 + 6, n), indexing="ij"
    )
    return lon, lat


def test_systems_last_days_and_are_drawn_the_same_for_any_scan():
    w = _weather(0, "G17", "M1")
    lon, lat = _grid(w)
    tau = {dt: w.clouds(lon, lat, T0 + timedelta(days=dt))[0] for dt in (0, 1 / 24, 1, 10)}
    cloudy = {dt: (t > 1).ravel() for dt, t in tau.items()}
    assert 0.1 < cloudy[0].mean() < 0.9
    assert np.corrcoef(cloudy[0], cloudy[1 / 24])[0, 1] > 0.9  # an hour later: the same scene
    assert np.corrcoef(cloudy[0], cloudy[1])[0, 1] > 0.3  # a day later: much of it
    ids = {dt: {s.born for s in w.alive(T0 + timedelta(days=dt))[1]} for dt in (0, 10)}
    assert ids[0] and not ids[0] & ids[10]  # past the longest life: none shared
    assert LIFE_DAYS[1] < 7  # the paper config's 7 buffer days separate any two systems
    fresh = Weather(0, "G17", "M1", w.home)  # a new instance, asked about the later day first
    assert np.array_equal(fresh.clouds(lon, lat, T0 + timedelta(days=1))[0], tau[1])
    other = Weather(1, "G17", "M1", w.home)
    assert not np.array_equal(other.clouds(lon, lat, T0)[0], tau[0])


def test_an_opaque_systems_thickness_shows_in_the_visible_only():
    """Two systems alike but for thickness: the same C13 once opaque, a different C02."""
    w = _weather(0, "G17", "M1")
    lon, lat = _grid(w, 100)
    sza = np.full(lon.shape, 30.0)
    tau = np.full(lon.shape, 12.0, np.float32)
    top = np.full(lon.shape, 9.0, np.float32)
    thin, thick = (
        Scene(lon, lat, sza, np.random.default_rng(1), (k * tau, top)) for k in (1.0, 4.0)
    )
    seen = np.abs(thin.brightness_temperature(13) - thick.brightness_temperature(13))
    assert np.median(seen) < 0.3  # the texture thins a few pixels to semi-transparency
    assert (thick.reflectance(2) - thin.reflectance(2)).mean() > 0.15


def test_archive_writes_persistent_weather(tmp_path):
    start = T0.replace(hour=19)
    spec = ArchiveSpec(
        root=tmp_path, start=start, end=start + timedelta(hours=1), every=timedelta(hours=1),
        hours=(19, 20), bands=(band_number("C13"),), weather="persistent",
    )  # fmt: skip
    first, second = (read_band(p).values for p in sorted(write_archive(spec)))
    ok = np.isfinite(first) & np.isfinite(second)
    assert np.corrcoef(first[ok], second[ok])[0, 1] > 0.5  # an hour apart: the same clouds
    with pytest.raises(ValueError, match="weather 'rainy'"):
        write_archive(ArchiveSpec(root=tmp_path, start=start, end=start, weather="rainy"))
