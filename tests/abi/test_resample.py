"""Block means onto the 2 km grid, alone and inside read_band (counts averaged, then calibrated)."""

import numpy as np
import pytest

from hpc_vqvae.abi import ABIReadError, read_band
from hpc_vqvae.abi.resample import block_mean, coarse_coord
from tests.helpers.real import sample_files


def test_block_mean_is_exact_and_nan_aware():
    v = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert np.array_equal(block_mean(v, 2, 1), [[2.5, 4.5], [10.5, 12.5]])
    v[0, 0] = v[0, 1] = v[1, 0] = np.nan  # 1 valid of 4 in the first block
    out = block_mean(v, 2, 2)
    assert np.isnan(out[0, 0]) and out[0, 1] == 4.5
    assert block_mean(v, 2, 1)[0, 0] == 5.0
    assert block_mean(v, 4, 13)[0, 0] == np.nanmean(v)
    assert out.dtype == np.float32


def test_block_mean_of_counts_with_a_valid_mask():
    counts = np.full((4, 4), 65535, np.uint16)  # the largest 16-bit count: sums stay exact
    valid = np.ones((4, 4), bool)
    valid[:2, :2] = [[True, False], [False, False]]
    out = block_mean(counts, 2, 2, valid=valid)
    assert np.isnan(out[0, 0]) and np.all(out.ravel()[1:] == 65535)
    assert block_mean(counts, 2, 1, valid=valid)[0, 0] == 65535
    one = block_mean(counts, 1, valid=valid)
    assert np.isnan(one[0, 1]) and one[0, 0] == 65535 and counts[0, 1] == 65535  # input kept
    with pytest.raises(ValueError, match="does not divide into 3x3"):
        block_mean(counts, 3)


def _sample(band: int) -> "Path":  # noqa: F821
    return next(f for f in sample_files() if f"M6C{band:02d}_" in f.name)


@pytest.mark.parametrize("band, factor", [(1, 2), (2, 4), (3, 2), (13, 1), (7, 1)])
def test_read_band_coarsened_equals_block_mean_of_full_resolution(sample_dir, band, factor):
    """Averaging counts before the (linear) calibration gives the same 2 km field as averaging
    reflectances, to float32 rounding, with the same NaN pixels (DQF-masked ones included)."""
    path = _sample(band)
    full = read_band(path)
    for min_valid in (1, factor * factor):
        coarse = read_band(path, coarsen=factor, min_valid=min_valid)
        want = block_mean(full.values, factor, min_valid)
        assert coarse.shape == (500, 500) and coarse.dtype == np.float32
        assert np.array_equal(np.isnan(coarse.values), np.isnan(want))
        np.testing.assert_allclose(coarse.values, want, rtol=3e-7, atol=1e-7, equal_nan=True)
        assert np.array_equal(coarse.x.values, coarse_coord(full.x.values, factor))
        assert np.array_equal(coarse.y.values, coarse_coord(full.y.values, factor))
        assert coarse.attrs["resolution_km"] == 2.0


def test_read_band_coarsen_that_does_not_fit_names_the_file(sample_dir):
    path = _sample(2)
    with pytest.raises(ABIReadError, match=f"{path.name}.*does not divide into 3x3"):
        read_band(path, coarsen=3)
    with pytest.raises(ValueError, match="coarsen=0"):
        read_band(path, coarsen=0)
