"""read_band beyond the satpy comparison: packing, DQF, and bad input."""

import shutil

import h5py
import netCDF4
import numpy as np
import pytest

from hpc_vqvae.abi import ABIReadError, read_band
from hpc_vqvae.abi.reader import unpack
from tests.helpers.real import sample_files


def _sample(band: int, night: bool) -> "Path":  # noqa: F821
    stamp = "_s20193351027275_" if night else "_s20193002000275_"
    return next(f for f in sample_files() if f"M6C{band:02d}_" in f.name and stamp in f.name)


def test_attrs_and_units(sample_dir):
    bt = read_band(_sample(13, night=True))
    assert bt.dtype == np.float32 and bt.dims == ("y", "x") and bt.shape == (500, 500)
    assert bt.attrs["units"] == "K" and bt.attrs["band"] == 13 and bt.attrs["platform"] == "G17"
    assert bt.attrs["sector"] == "M1" and bt.attrs["scan_mode"] == 6
    assert bt.attrs["start_time"].startswith("2019-12-01T10:27:27.5")
    assert bt.attrs["wavelength"] == 10.33
    assert bt.x.dtype == np.float64 and bt.y.dtype == np.float64
    assert 180 < float(bt.min()) and float(bt.max()) < 320
    refl = read_band(_sample(1, night=False))
    assert refl.attrs["units"] == "1" and 0 < float(refl.mean()) < 1.2  # a factor, not percent


def test_resaved_float_xy_equal_packed_xy(sample_dir):
    """Night files hold x/y as float32 (re-saved by xarray), day files as packed int16."""
    with netCDF4.Dataset(_sample(13, night=True)) as ds:
        assert ds["x"].dtype == np.float32
    with netCDF4.Dataset(_sample(13, night=False)) as ds:
        assert ds["x"].dtype == np.int16
    night, day = read_band(_sample(13, night=True)), read_band(_sample(13, night=False))
    step = np.diff(night.x.values)
    assert np.allclose(step, 56e-6, rtol=1e-3) and np.allclose(np.diff(day.x.values), 56e-6)


def test_dqf_mask(sample_dir):
    """The day C07 file has 16 saturated fire pixels flagged DQF=2."""
    path = _sample(7, night=False)
    assert int(read_band(path, mask_dqf=True).isnull().sum()) == 16
    assert int(read_band(path, mask_dqf=False).isnull().sum()) == 0


def test_unsigned_packing_and_fill(tmp_path):
    path = tmp_path / "packed.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("n", 4)
        var = ds.createVariable("v", "i2", ("n",), fill_value=np.int16(-1))  # 65535 unsigned
        var.setncatts(
            {"_Unsigned": "true", "scale_factor": np.float32(0.5), "add_offset": np.float32(-1.0)}
        )
        var.set_auto_maskandscale(False)
        var[:] = np.array([0, 40000, 65535, 32767], dtype=np.uint16).view(np.int16)
    with h5py.File(path) as ds:
        out = unpack(ds["v"])
    assert out[0] == -1.0 and out[1] == 19999.0 and np.isnan(out[2]) and out[3] == 16382.5


def test_text_and_scalar_attributes_read_like_netcdf4(sample_dir):
    """h5py hands netCDF attributes over as arrays and bytes; the reader turns them back."""
    path = _sample(2, night=True)
    da = read_band(path)
    with netCDF4.Dataset(path) as ds:
        proj = ds["goes_imager_projection"]
        for key in ("semi_major_axis", "perspective_point_height", "sweep_angle_axis"):
            assert da.attrs[key] == proj.getncattr(key) and type(da.attrs[key]) is not np.ndarray
        assert da.attrs["platform"] == ds.platform_ID == "G17"
        assert da.attrs["kappa0"] == float(ds["kappa0"][...])


def test_not_hdf5_names_the_file(tmp_path):
    """A netCDF-3 (classic) file is not what NOAA distributes; the error says so in one line."""
    path = tmp_path / "OR_ABI-L1b-RadM1-M6C13_G17_s20193351027275_e0_c0.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("n", 1)
    with pytest.raises(ABIReadError, match=f"{path.name}: unreadable ABI L1b file"):
        read_band(path)


def test_missing_file(tmp_path):
    with pytest.raises(ABIReadError, match="no such file"):
        read_band(tmp_path / "nope.nc")


def test_corrupt_file(tmp_path, sample_dir):
    bad = tmp_path / _sample(13, night=True).name
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 40)
    with pytest.raises(ABIReadError, match=bad.name):
        read_band(bad)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_file(tmp_path, fraction, sample_dir):
    src = _sample(2, night=True)
    cut = tmp_path / src.name
    data = src.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ABIReadError, match=cut.name):
        read_band(cut)


def test_missing_variable_is_named(tmp_path, sample_dir):
    src = _sample(13, night=False)
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    with netCDF4.Dataset(dst, "a") as ds:
        ds.renameVariable("planck_fk1", "renamed")
    with pytest.raises(ABIReadError, match="planck_fk1"):
        read_band(dst)


def test_focal_plane_record(sample_dir):
    """Each file's focal-plane temperature record, as the real samples hold it: IR bands a
    maximum near 81 K, their band's threshold and no pixel over it; reflective bands fill
    values (NaN). Neither sample scan had GOES-17's cooling anomaly."""
    keys = ("focal_plane_temperature_max", "focal_plane_threshold_increasing")
    count = "focal_plane_threshold_exceeded_count"
    expected = {  # (band, night): (maximum K, threshold K), float32 values as float
        (13, False): (81.0234146118164, 100.0),
        (13, True): (81.77388000488281, 100.0),
        (14, True): (81.77388000488281, 93.0),
        (11, True): (81.63670349121094, 97.0),
        (7, False): (80.99079895019531, 150.0),
    }
    for (band, night), values in expected.items():
        attrs = read_band(_sample(band, night)).attrs
        assert tuple(attrs[k] for k in keys) == values, (band, night)
        assert attrs[count] == 0.0
    for band in (1, 3):
        attrs = read_band(_sample(band, night=True)).attrs
        assert all(np.isnan(attrs[k]) for k in (*keys, count)), band
