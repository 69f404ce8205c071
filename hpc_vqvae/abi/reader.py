"""Read one ABI L1b radiance file into a calibrated, geolocatable ``xarray.DataArray``.

L1b files are netCDF-4, that is HDF5, and are read with h5py: it opens a file lazily, where
netCDF-C first reads every variable's metadata: opening a meso scan's six files and decoding
their radiances took 103 ms with netCDF4 and 57 ms with h5py on one core here. Their chunks
are inflated with libdeflate (see ``chunks``). Packing is undone by hand because NOAA's
files store unsigned counts in signed ints (``_Unsigned="true"``) and the fill value in that
unsigned domain; files re-saved by xarray keep that for ``Rad`` but may hold x/y as plain
floats.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from .bands import BANDS, band_name
from .calibration import brightness_temperature, reflectance_factor
from .chunks import DecodeError, read_array
from .epoch import from_j2000
from .names import ABINameError, parse_name
from .projection import FixedGridProjection
from .resample import block_mean, coarse_coord

# What the reader copies of goes_imager_projection into a band's attributes.
_PROJECTION_ATTRS = tuple(f.name for f in fields(FixedGridProjection))
_SCENE_SECTOR = {"Full Disk": "F", "CONUS": "C"}
# Each file's focal-plane temperature record (attribute -> L1b variable): GOES-17's loop heat
# pipe let the IR focal planes warm on many nights around the equinoxes of 2019-2022, and these
# say when (reflective bands hold fill values). Fill values and absent variables read as NaN.
FOCAL_PLANE_ATTRS = {
    "focal_plane_temperature_max": "maximum_focal_plane_temperature",  # K
    "focal_plane_threshold_increasing": "focal_plane_temperature_threshold_increasing",  # K
    "focal_plane_threshold_exceeded_count": "focal_plane_temperature_threshold_exceeded_count",
}


class ABIReadError(OSError):
    """An L1b file that cannot be read: unreadable, truncated, or missing what calibration needs."""


def _attr(obj: h5py.HLObject, name: str, default=None):
    """A netCDF attribute as netCDF4 gives it: one-element arrays as scalars, text as str."""
    attrs = obj.attrs  # each .attrs is a new manager, and each lookup an HDF5 call
    if name not in attrs:
        return default
    value = attrs[name]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    return value


def _var(ds: h5py.File, name: str) -> h5py.Dataset:
    var = ds.get(name)
    if not isinstance(var, h5py.Dataset):
        raise KeyError(name)
    return var


def _is_unsigned(var: h5py.Dataset) -> bool:
    return str(_attr(var, "_Unsigned", "false")).lower() == "true"


def _raw(var: h5py.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The stored integers (viewed unsigned where flagged) and the mask of fill values."""
    raw = read_array(var)
    fill = _attr(var, "_FillValue")
    if _is_unsigned(var) and raw.dtype.kind == "i":
        udtype = raw.dtype.str.replace("i", "u")
        raw = raw.view(udtype)
        fill = None if fill is None else np.asarray(fill).astype(raw.dtype.str.replace("i", "u"))
    is_fill = np.zeros(raw.shape, bool) if fill is None else raw == fill
    if raw.dtype.kind == "f":
        is_fill |= np.isnan(raw)
    return raw, is_fill


def _decimal(value) -> float:
    """A float32 attribute as the decimal NOAA wrote (2.8e-05, not 2.7999999e-05)."""
    return float(repr(np.float32(value)).removeprefix("np.float32(").removesuffix(")"))


def _scale(var: h5py.Dataset, out: np.ndarray, decimal_scale: bool = False) -> np.ndarray:
    """Apply the variable's scale_factor/add_offset (float32 attributes) in place."""
    to_float = _decimal if decimal_scale else (lambda v: float(np.float32(v)))
    for name, op in (("scale_factor", np.multiply), ("add_offset", np.add)):
        value = _attr(var, name)
        if value is not None:
            op(out, out.dtype.type(to_float(value)), out=out)
    return out


def unpack(var: h5py.Dataset, *, decimal_scale: bool = False, dtype=np.float64) -> np.ndarray:
    """Counts -> physical values, fill -> NaN. scale/offset are float32 attributes; large
    images are unpacked in float32 (as satpy does), coordinates in float64."""
    raw, is_fill = _raw(var)
    out = _scale(var, raw.astype(dtype), decimal_scale)
    if is_fill.any():
        out[is_fill] = np.nan
    return out


def _scalar(ds: h5py.File, name: str) -> float:
    value = unpack(_var(ds, name))
    return float(np.asarray(value).reshape(-1)[0])


def _optional_scalar(ds: h5py.File, name: str) -> float:
    """A scalar variable's value; NaN if it is a fill value or the file lacks it."""
    var = ds.get(name)
    if not isinstance(var, h5py.Dataset):
        return float("nan")
    return float(np.asarray(unpack(var)).reshape(-1)[0])


def _required(obj: h5py.HLObject, name: str):
    value = _attr(obj, name)
    if value is None:
        raise KeyError(name)
    return value


def _seconds(t: float) -> str:
    return from_j2000(t).isoformat(timespec="microseconds")


def _sector(path: Path, ds: h5py.File) -> str:
    for name in (path.name, str(_attr(ds, "dataset_name", ""))):
        try:
            return parse_name(name).sector
        except ABINameError:
            continue
    scene = str(_attr(ds, "scene_id", ""))
    return _SCENE_SECTOR.get(scene, scene or "unknown")


def _mode(ds: h5py.File) -> int | None:
    timeline = str(_attr(ds, "timeline_id", ""))
    digits = "".join(c for c in timeline if c.isdigit())
    return int(digits) if digits else None


def _calibrate(ds: h5py.File, band: int, rad: np.ndarray) -> tuple[np.ndarray, dict]:
    if BANDS[band].emissive:
        coeffs = [_scalar(ds, k) for k in ("planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2")]
        if not np.all(np.isfinite(coeffs)):
            raise ValueError("planck_fk1/fk2/bc1/bc2 are fill values")
        attrs = {"units": "K", "standard_name": "toa_brightness_temperature"}
        return brightness_temperature(rad, *coeffs), attrs | {
            "calibration": "brightness_temperature"
        }
    k0 = _scalar(ds, "kappa0")
    if not np.isfinite(k0):
        raise ValueError("kappa0 is a fill value")
    attrs = {"units": "1", "standard_name": "toa_bidirectional_reflectance"}
    return reflectance_factor(rad, k0), attrs | {"calibration": "reflectance", "kappa0": k0}


def _radiance(ds: h5py.File, band: int, mask_dqf: bool, coarsen: int, min_valid: int):
    """Radiance on the (coarsened) grid, invalid pixels NaN. Emissive bands come back at full
    resolution: their calibration is not linear, so they are averaged as temperatures."""
    var = _var(ds, "Rad")
    raw, invalid = _raw(var)
    if mask_dqf:
        dqf, dqf_fill = _raw(_var(ds, "DQF"))
        invalid |= dqf >= 2
        invalid |= dqf_fill
    if BANDS[band].emissive:
        coarsen = 1
    counts = block_mean(raw, coarsen, min_valid, valid=~invalid)
    return _scale(var, counts), coarsen


def _read(path: Path, ds: h5py.File, mask_dqf: bool, coarsen: int, min_valid: int):
    band = int(np.asarray(_var(ds, "band_id")[()]).reshape(-1)[0])
    if band not in BANDS:
        raise ValueError(f"band_id {band} is not an ABI band")
    rad, done = _radiance(ds, band, mask_dqf, coarsen, min_valid)
    values, cal_attrs = _calibrate(ds, band, rad)
    if coarsen > done:
        values = block_mean(values, coarsen, min_valid)
    x = coarse_coord(unpack(_var(ds, "x"), decimal_scale=True), coarsen)
    y = coarse_coord(unpack(_var(ds, "y"), decimal_scale=True), coarsen)
    proj = _var(ds, "goes_imager_projection")
    t_start, t_end = (float(v) for v in unpack(_var(ds, "time_bounds")))
    attrs = {
        "band": band,
        "band_name": band_name(band),
        "wavelength": _decimal(_scalar(ds, "band_wavelength")),
        "platform": str(_required(ds, "platform_ID")),
        "sector": _sector(path, ds),
        "scan_mode": _mode(ds),
        "start_time": _seconds(t_start),
        "end_time": _seconds(t_end),
        "time": _seconds(_scalar(ds, "t")),
        "resolution_km": BANDS[band].resolution_km * coarsen,
        "dqf_masked": int(mask_dqf),
        "source_file": path.name,
        **{k: _optional_scalar(ds, v) for k, v in FOCAL_PLANE_ATTRS.items()},
        **cal_attrs,
        **{k: _required(proj, k) for k in _PROJECTION_ATTRS},
    }
    attrs["sweep_angle_axis"] = str(attrs["sweep_angle_axis"])
    return xr.DataArray(
        values.astype(np.float32, copy=False),
        dims=("y", "x"),
        coords={
            "y": ("y", y, {"units": "rad", "standard_name": "projection_y_coordinate"}),
            "x": ("x", x, {"units": "rad", "standard_name": "projection_x_coordinate"}),
        },
        name=band_name(band),
        attrs=attrs,
    )


def read_band(
    path: str | Path, *, mask_dqf: bool = True, coarsen: int = 1, min_valid: int = 1
) -> xr.DataArray:
    """Calibrated 2-D (y, x) float32 field of one L1b file: BT in K (bands 7-16) or reflectance
    factor (bands 1-6); fill -> NaN, and with ``mask_dqf`` pixels of DQF >= 2 too.

    ``coarsen=k`` returns the mean of each k x k block of valid pixels instead (NaN where fewer
    than ``min_valid``), with block-centre x/y: e.g. 4 for C02 on the 2 km grid. Reflective
    bands average counts and calibrate after, which is exact (linear) and cheaper.

    Raises ABIReadError, naming the file, if it is missing, corrupt, truncated or incomplete.
    """
    path = Path(path)
    if not (isinstance(coarsen, int) and coarsen >= 1 and isinstance(min_valid, int)):
        raise ValueError(f"coarsen={coarsen!r}, min_valid={min_valid!r}: need integers >= 1")
    if not path.is_file():
        raise ABIReadError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as ds:
            return _read(path, ds, mask_dqf, coarsen, min_valid)
    except ABIReadError:
        raise
    except KeyError as err:
        raise ABIReadError(
            f"{path}: not an ABI L1b file, variable or attribute {err} missing"
        ) from None
    except (OSError, RuntimeError, ValueError, IndexError, DecodeError) as err:
        raise ABIReadError(f"{path}: unreadable ABI L1b file ({err})") from None
