"""Write one L1b radiance file exactly as NOAA lays it out, from the shipped header template."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

from ..bands import BANDS
from ..calibration import kappa0, radiance_from_bt, radiance_from_reflectance
from ..names import ABIFileName, format_stamp
from ..template import _band_header, band_constants, decode
from .sectors import PLATFORMS, ScanFrame, projection

_J2000 = datetime(2000, 1, 1, 12)
_SCENE_ID = {"F": "Full Disk", "C": "CONUS", "M1": "Mesoscale", "M2": "Mesoscale"}
_DQF_KEYS = ("good_pixel", "conditionally_usable_pixel", "out_of_range_pixel", "no_value_pixel",
             "focal_plane_temperature_threshold_exceeded")  # fmt: skip


@dataclass(frozen=True)
class L1bScan:
    """What a file needs besides its band's field: which scan, where, and when."""

    name: ABIFileName
    frame: ScanFrame

    @property
    def times(self) -> tuple[float, float, float]:
        """(start, end, mid) in seconds since the J2000 epoch, as stored in ``time_bounds``/``t``."""
        start = (self.name.start - _J2000).total_seconds()
        end = (self.name.end - _J2000).total_seconds() + 0.05
        return start, end, (start + end) / 2


def earth_sun_distance(when: datetime) -> float:
    """Earth-Sun distance in AU (first-order eccentricity term; 1e-4 AU accurate)."""
    doy = when.timetuple().tm_yday + when.hour / 24.0
    return 1.0 - 0.01672 * np.cos(np.radians(0.9856 * (doy - 4.0)))


def _stamp(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 100_000}Z"


def to_counts(field: np.ndarray, band: int, k0: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated field -> (uint16 counts with fill, uint8 DQF), saturating as the sensor does."""
    c = band_constants(band)
    if BANDS[band].emissive:
        rad = radiance_from_bt(field, c["planck_fk1"], c["planck_fk2"], c["planck_bc1"], c["planck_bc2"])
    else:
        rad = radiance_from_reflectance(field, k0)
    counts = np.rint(((rad - c["add_offset"]) / c["scale_factor"]).astype(np.float32))
    valid = np.isfinite(counts)
    out_of_range = valid & ((counts < 0) | (counts > c["max_count"]))
    counts = np.where(valid, np.clip(counts, 0, c["max_count"]), c["fill"]).astype(np.uint16)
    dqf = np.where(valid, np.where(out_of_range, 2, 0), 255).astype(np.uint8)
    return counts, dqf


def _scan_values(scan: L1bScan, counts: np.ndarray, dqf: np.ndarray, k0: float, esd: float) -> dict:
    c = band_constants(scan.name.band)
    usable = dqf <= 1
    good = counts[usable]
    scale, offset = c["scale_factor"], c["add_offset"]
    start, end, mid = scan.times
    (x0, x1), (y0, y1) = scan.frame.bounds
    reflective = not BANDS[scan.name.band].emissive
    return {
        "t": mid,
        "time_bounds": [start, end],
        "x_image": (x0 + x1) / 2,
        "y_image": (y0 + y1) / 2,
        "x_image_bounds": [x0, x1],
        "y_image_bounds": [y0, y1],
        "kappa0": k0 if reflective else -999.0,
        "earth_sun_distance_anomaly_in_AU": esd,
        "valid_pixel_count": int(usable.sum()),
        "missing_pixel_count": int((dqf == 255).sum()),
        "saturated_pixel_count": int((counts[usable] == c["max_count"]).sum()),
        "undersaturated_pixel_count": int(((counts == 0) & usable).sum()),
        "focal_plane_temperature_threshold_exceeded_count": 0,
        "min_radiance_value_of_valid_pixels": good.min() * scale + offset if good.size else -999.0,
        "max_radiance_value_of_valid_pixels": good.max() * scale + offset if good.size else -999.0,
        "mean_radiance_value_of_valid_pixels": good.mean() * scale + offset if good.size else -999.0,
        "std_dev_radiance_value_of_valid_pixels": good.std() * scale if good.size else -999.0,
    }


def _globals(scan: L1bScan, header: dict) -> dict:
    name = scan.name
    _, _, slot, instrument = PLATFORMS[name.satellite]
    out = {k: decode(v) for k, v in header["globals"].items()}
    out.update(  # dict.update keeps the template's key order
        orbital_slot=slot,
        platform_ID=name.satellite,
        instrument_ID=instrument,
        scene_id=_SCENE_ID[name.sector],
        timeline_id=f"ABI Mode {name.mode}",
        dataset_name=name.name,
        date_created=_stamp(name.created),
        time_coverage_start=_stamp(name.start),
        time_coverage_end=_stamp(name.end),
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, name.name)),  # deterministic for the name
    )
    return out


def write_l1b(path: str | Path, scan: L1bScan, field: np.ndarray) -> Path:
    """Write the calibrated ``field`` (BT in K or reflectance factor) of one band as an L1b file.

    Counts, DQF, statistics, times and the moving fixed-grid position are filled into NOAA's
    header for the band; the file is written under a temporary name and renamed, so a killed
    generator never leaves a half file under the real name.
    """
    name, frame = scan.name, scan.frame
    band = name.band
    header = _band_header(band)  # read-only here
    esd = earth_sun_distance(name.start)
    k0 = kappa0(band_constants(band)["esun"], esd) if not BANDS[band].emissive else float("nan")
    counts, dqf = to_counts(field, band, k0)
    factor = round(2.0 / BANDS[band].resolution_km)
    x, y = frame.centres(factor)
    values = _scan_values(scan, counts, dqf, k0, esd)
    proj_lon, sub_lon, _, _ = PLATFORMS[name.satellite]

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    dims = dict(header["dims"], y=len(y), x=len(x))
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.set_auto_maskandscale(False)
        for dim, size in dims.items():
            ds.createDimension(dim, size)
        for vname, spec in header["variables"].items():
            attrs = {k: decode(v) for k, v in spec["attrs"].items()}
            fill = attrs.pop("_FillValue", None)
            var = ds.createVariable(
                vname,
                np.dtype(spec["dtype"]),
                tuple(spec["dims"]),
                zlib=spec["zlib"],
                complevel=spec["complevel"] or 1,
                shuffle=spec["shuffle"],
                chunksizes=spec["chunks"],
                contiguous=spec["chunks"] is None and not spec["zlib"],
                fill_value=fill,
            )
            var.set_auto_maskandscale(False)
            if vname in ("x", "y"):
                attrs["add_offset"] = np.float32((x if vname == "x" else y)[0])
            elif vname == "DQF":
                total = dqf.size
                for key in _DQF_KEYS:
                    flag = _DQF_KEYS.index(key)
                    attrs[f"percent_{key}_qf"] = np.float32((dqf == flag).sum() / total)
            elif vname == "geospatial_lat_lon_extent":
                attrs.update(_extent_attrs(frame, name.satellite))
            elif vname == "goes_imager_projection":
                attrs["longitude_of_projection_origin"] = np.float64(proj_lon)
            elif vname == "algorithm_dynamic_input_data_container":
                attrs["input_ABI_L0_data"] = (
                    f"OR_ABI-L0-{name.sector}-M{name.mode}_{name.satellite}"
                    f"_s{format_stamp(name.start)}_e{format_stamp(name.end)}_c*.nc"
                )
            unset = [k for k, v in attrs.items() if v is None]
            if unset:
                raise ValueError(f"{vname}: per-scan attributes {unset} were not filled in")
            var.setncatts(attrs)
            var[...] = _data(vname, spec, header, values, counts, dqf, x, y, name, sub_lon)
        ds.setncatts(_globals(scan, header))
    tmp.replace(path)
    return path


def _data(vname, spec, header, values, counts, dqf, x, y, name, sub_lon):
    dtype = np.dtype(spec["dtype"])
    if vname == "Rad":
        return counts.view(np.int16)
    if vname == "DQF":
        return dqf.view(np.int8)
    if vname in ("x", "y"):
        coord = x if vname == "x" else y
        scale = float(decode(spec["attrs"]["scale_factor"]))
        raw = np.rint((coord - np.float32(coord[0])) / scale)
        return raw.astype(dtype)
    if vname in values:
        return np.asarray(values[vname], dtype=dtype)
    if vname == "band_id":
        return np.array([name.band], dtype=dtype)
    if vname == "nominal_satellite_subpoint_lon":
        return np.asarray(sub_lon, dtype=dtype)
    value = spec["value"]
    if value is None:
        raise ValueError(f"template variable {vname} has no value for a synthetic scan")
    return np.asarray(decode(value), dtype=dtype)


def _extent_attrs(frame: ScanFrame, satellite: str) -> dict:
    from ..geometry import fixed_grid_lonlat

    x, y = frame.centres(1)
    lon, lat = fixed_grid_lonlat(x[:: max(1, len(x) // 50)], y[:: max(1, len(y) // 50)],
                                 **projection(satellite))  # fmt: skip
    cx, cy = np.array([x.mean()]), np.array([y.mean()])
    clon, clat = fixed_grid_lonlat(cx, cy, **projection(satellite))
    f32 = np.float32
    return {
        "geospatial_westbound_longitude": f32(np.nanmin(lon)) if np.isfinite(lon).any() else f32(-999),
        "geospatial_northbound_latitude": f32(np.nanmax(lat)) if np.isfinite(lat).any() else f32(-999),
        "geospatial_eastbound_longitude": f32(np.nanmax(lon)) if np.isfinite(lon).any() else f32(-999),
        "geospatial_southbound_latitude": f32(np.nanmin(lat)) if np.isfinite(lat).any() else f32(-999),
        "geospatial_lat_center": f32(clat[0, 0]),
        "geospatial_lon_center": f32(clon[0, 0]),
        "geospatial_lon_nadir": f32(PLATFORMS[satellite][0]),
    }


def scan_name(satellite: str, sector: str, mode: int, band: int, start: datetime) -> ABIFileName:
    """The file name NOAA would give this band of the scan (end and creation times included)."""
    from .sectors import BAND_EXTRA_S, SCAN_LENGTH_S

    end = start + timedelta(seconds=SCAN_LENGTH_S[sector] + BAND_EXTRA_S.get(band, 0.0))
    created = end + timedelta(seconds=4.7)
    return ABIFileName(satellite, sector, start, band, mode, end, created)
