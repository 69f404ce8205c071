"""The day-night blend's weight and its flags, without a model: the pure part of --blend."""

import argparse

import numpy as np
import pytest

from hpc_vqvae.errors import UsageError
from hpc_vqvae.predict.blend import band_of, blend, weight


@pytest.mark.parametrize("band", [(80.0, 90.0), (70.0, 96.5)])
def test_weight_is_0_then_1_and_monotonic(band):
    lo, hi = band
    sza = np.linspace(0, 180, 3601, dtype=np.float32)
    w = weight(sza, band)
    assert (w[sza <= lo] == 0).all() and (w[sza >= hi] == 1).all()
    inside = (sza > lo) & (sza < hi)
    assert ((w[inside] > 0) & (w[inside] < 1)).all()
    assert (np.diff(w) >= 0).all() and np.diff(w[inside]).max() > 0
    assert weight(np.float32((lo + hi) / 2), band) == pytest.approx(0.5, abs=1e-6)
    # a smooth start: the first step into the band is far below the band's mean slope
    step = np.float32(0.05)
    assert weight(np.float32(lo) + step, band) < 0.1 * step / (hi - lo)  # a ramp: 1x
    assert weight(np.float32(np.nan), band) == 1, "no geometry: the synthetic"


def test_blend_uses_what_each_pixel_needs():
    sza = np.array([[10.0, 85.0, 120.0, 10.0]], np.float32)
    syn = np.full((3, 1, 4), 0.8, np.float32)
    obs = np.full((3, 1, 4), 0.2, np.float32)
    obs[1, 0, 3] = np.nan  # a missing observed pixel by day: the synthetic is used
    syn[:, 0, 0] = np.nan  # no IR by day: the observation alone is shown
    rgb, share = blend(syn, obs, sza)
    np.testing.assert_array_equal(share, [[0, 0.5, 1, 1]])
    np.testing.assert_allclose(rgb[0, 0], [0.2, 0.5, 0.8, 0.8])
    rgb, share = blend(syn, None, sza)
    assert (share == 1).all() and np.isnan(rgb[:, 0, 0]).all()


def _args(blend_band, on=True):
    return argparse.Namespace(blend=on, blend_band=blend_band)


def test_band_flag():
    assert band_of(_args(None)) == (80.0, 90.0) and band_of(_args(None, False)) is None
    assert band_of(_args("75,95.5")) == (75.0, 95.5)
    for bad in ("90,80", "80", "a,b", "-5,10", "170,181", "80,80", "nan,90"):
        with pytest.raises(UsageError, match="--blend-band"):
            band_of(_args(bad))
    with pytest.raises(UsageError, match="add it"):
        band_of(_args("80,90", False))


def test_bad_bands_are_one_line(tmp_path, capsys):
    """Refused before a model loads or a store opens: one line, exit 2."""
    from hpc_vqvae.predict import main

    base = ["--checkpoint", str(tmp_path / "run"), "--store", str(tmp_path / "s.zarr")]
    base += ["--start", "2020-05-03", "--end", "2020-05-03", "--output", str(tmp_path / "o.nc")]
    cases = {
        "90,80": "LO < HI",
        "80,181": "LO < HI <= 180",
        "-1,90": "0 <= LO",
        "eighty,90": "expected LO,HI",
        "80": "expected LO,HI",
    }
    for band, expected in cases.items():
        assert main([*base, "--blend", f"--blend-band={band}"]) == 2, band
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert main([*base, "--blend-band", "80,90"]) == 2
    err = capsys.readouterr().err
    assert "add it" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []
