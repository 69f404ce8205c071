"""libdeflate chunk decoding returns exactly what HDF5 returns, or says why it cannot."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from hpc_vqvae.abi.chunks import DecodeError, read_array
from hpc_vqvae.abi.reader import ABIReadError, read_band


def _same(var: h5py.Dataset) -> None:
    got, want = read_array(var), var[()]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_real_files_decode_as_hdf5(sample_dir):
    for path in sorted(sample_dir.glob("*.nc")):
        with h5py.File(path, "r") as ds:
            assert ds["Rad"].compression == "gzip"  # the fast path is the one taken
            for name in ("Rad", "DQF", "x", "y", "band_id"):
                _same(ds[name])


@pytest.mark.parametrize("dtype", ["<i2", ">i2", "<f4", "u1"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_filters_edges_and_unwritten_chunks(tmp_path, dtype, shuffle):
    rng = np.random.default_rng(0)
    data = (rng.normal(0, 1000, (37, 23)) % 200).astype(dtype)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        full = f.create_dataset(
            "full", data=data, chunks=(8, 5), compression="gzip", shuffle=shuffle
        )
        part = f.create_dataset(
            "part", shape=(37, 23), dtype=dtype, chunks=(8, 5), compression="gzip",
            shuffle=shuffle, fillvalue=7,
        )  # fmt: skip
        part[3:10, 4:12] = data[3:10, 4:12]  # most chunks never written: fill value
        _same(full)
        _same(part)
        assert np.sum(read_array(part) == 7) > 0.5 * part.size


def test_chunk_stored_without_deflate(tmp_path):
    """A chunk whose filter mask says deflate was skipped (HDF5 does this when a chunk does
    not compress) is taken as it is."""
    data = np.arange(16, dtype="<i2").reshape(4, 4)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        var = f.create_dataset("v", data=np.zeros((4, 8), "<i2"), chunks=(4, 4), compression="gzip")
        var.id.write_direct_chunk((0, 4), data.tobytes(), filter_mask=1)
        _same(var)
        np.testing.assert_array_equal(read_array(var)[:, 4:], data)


@pytest.mark.parametrize("options", [{}, {"compression": "gzip", "fletcher32": True}])
def test_other_layouts_go_through_hdf5(tmp_path, options):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        var = f.create_dataset("v", data=np.arange(60.0).reshape(6, 10), **options)
        _same(var)


def test_strings_go_through_hdf5(tmp_path):
    words = np.array(["GOES-17", "ABI", "L1b"], dtype=h5py.string_dtype())
    with h5py.File(tmp_path / "f.h5", "w") as f:
        var = f.create_dataset("v", data=words, chunks=(2,), compression="gzip")
        assert list(read_array(var)) == list(var[()])


def test_corrupt_chunk_is_an_error_naming_the_file(tmp_path, sample_dir):
    src = next(sample_dir.glob("*C13_G17_s20193002000275*.nc"))
    bad = tmp_path / src.name
    shutil.copy(src, bad)
    with h5py.File(bad, "r+") as f:
        rad = f["Rad"]
        raw = bytearray(rad.id.read_direct_chunk((0, 0))[1])
        raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # zeroed in the middle
        rad.id.write_direct_chunk((0, 0), bytes(raw))
        with pytest.raises(DecodeError):
            read_array(rad)
    with pytest.raises(ABIReadError, match=bad.name):
        read_band(bad)
