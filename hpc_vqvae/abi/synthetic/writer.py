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
from ..epoch import seconds_since_j2000
from ..geometry import fixed_grid_lonlat
from ..names import ABIFileName, format_stamp
from ..platforms import PLATFORMS
from ..projection import FixedGridProjection
from ..template import DQF_CATEGORIES, _band_header, band_constants, decode
from .sectors import ScanFrame

_SCENE_ID = {"F": "Full Disk", "C": "CONUS", "M1": "Mesoscale", "M2": "Mesoscale"}


@dataclass(frozen=True)
class L1bScan:
    """What a file needs besides its band's field: which scan, where, and when."""

    name: ABIFileName
    frame: ScanFrame

    @property
    def times(self) -> tuple[float, float, float]:
        """(start, end, mid) in seconds since J2000, as stored in ``time_bounds`` and ``t``."""
        start = seconds_since_j2000(self.name.start)
        end = seconds_since_j2000(self.name.end) + 0.05
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
        rad = radiance_from_bt(
            field, c["planck_fk1"], c["planck_fk2"], c["planck_bc1"], c["planck_bc2"]
        )
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
        "focal_plane_temperature_threshold_exceeded_count": -1 if reflective else 0,  # as NOAA
        "min_radiance_value_of_valid_pixels": good.min() * scale + offset if good.size else -999.0,
        "max_radiance_value_of_valid_pixels": good.max() * scale + offset if good.size else -999.0,
        "mean_radiance_value_of_valid_pixels": good.mean() * scale + offset
        if good.size
        else -999.0,
        "std_dev_radiance_value_of_valid_pixels": good.std() * scale if good.size else -999.0,
    }


def _globals(scan: L1bScan, header: dict) -> dict:
    name = scan.name
    slot, instrument = PLATFORMS[name.satellite].slot, PLATFORMS[name.satellite].instrument
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


def _packed_angles(coord: np.ndarray, spec: dict) -> np.ndarray:
    """Scan angles as NOAA packs them: int16 steps from the first pixel (its add_offset)."""
    scale = float(decode(spec["attrs"]["scale_factor"]))
    return np.rint((coord - np.float32(coord[0])) / scale).astype(np.dtype(spec["dtype"]))


def _scan_attrs(scan: L1bScan, dqf: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict:
    """Per-scan attribute values, by variable (they fill the template's placeholders)."""
    name = scan.name
    return {
        "x": {"add_offset": np.float32(x[0])},
        "y": {"add_offset": np.float32(y[0])},
        "DQF": {k: np.float32(np.mean(dqf == i)) for i, k in enumerate(DQF_CATEGORIES)},
        "geospatial_lat_lon_extent": _extent_attrs(scan.frame, name.satellite),
        "goes_imager_projection": {
            "longitude_of_projection_origin": np.float64(PLATFORMS[name.satellite].projection_lon)
        },
        "algorithm_dynamic_input_data_container": {
            "input_ABI_L0_data": f"OR_ABI-L0-{name.sector}-M{name.mode}_{name.satellite}"
            f"_s{format_stamp(name.start)}_e{format_stamp(name.end)}_c*.nc"
        },
    }


def write_l1b(path: str | Path, scan: L1bScan, field: np.ndarray) -> Path:
    """Write the calibrated ``field`` (BT in K or reflectance factor) of one band as an L1b file.

    Counts, DQF, statistics, times and the moving fixed-grid position are filled into NOAA's
    header for the band; the file is written under a temporary name and renamed, so a killed
    generator never leaves a half file under the real name.
    """
    band = scan.name.band
    header = _band_header(band)  # read-only here
    esd = earth_sun_distance(scan.name.start)
    k0 = kappa0(band_constants(band)["esun"], esd) if not BANDS[band].emissive else float("nan")
    counts, dqf = to_counts(field, band, k0)
    x, y = scan.frame.centres(round(2.0 / BANDS[band].resolution_km))
    specs = header["variables"]
    values = _scan_values(scan, counts, dqf, k0, esd) | {
        "Rad": counts.view(np.int16),
        "DQF": dqf.view(np.int8),
        "x": _packed_angles(x, specs["x"]),
        "y": _packed_angles(y, specs["y"]),
        "band_id": [band],
        "nominal_satellite_subpoint_lon": PLATFORMS[scan.name.satellite].subpoint_lon,
    }
    scan_attrs = _scan_attrs(scan, dqf, x, y)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.set_auto_maskandscale(False)
        for dim, size in dict(header["dims"], y=len(y), x=len(x)).items():
            ds.createDimension(dim, size)
        for vname, spec in specs.items():
            attrs = {k: decode(v) for k, v in spec["attrs"].items()} | scan_attrs.get(vname, {})
            unset = [k for k, v in attrs.items() if v is None]
            if unset:
                raise ValueError(f"{vname}: per-scan attributes {unset} were not filled in")
            var = ds.createVariable(
                vname,
                np.dtype(spec["dtype"]),
                tuple(spec["dims"]),
                zlib=spec["zlib"],
                complevel=spec["complevel"] or 1,
                shuffle=spec["shuffle"],
                chunksizes=spec["chunks"],
                contiguous=spec["chunks"] is None and not spec["zlib"],
                fill_value=False,  # _FillValue goes in with the others, in NOAA's order
            )
            var.set_auto_maskandscale(False)
            var.setncatts(attrs)
            value = values[vname] if vname in values else decode(spec["value"])
            if value is None:
                raise ValueError(f"template variable {vname} has no value for a synthetic scan")
            var[...] = np.asarray(value, dtype=np.dtype(spec["dtype"]))
        ds.setncatts(_globals(scan, header))
    tmp.replace(path)
    return path


def _extent_attrs(frame: ScanFrame, satellite: str) -> dict:
    """The lat/lon box NOAA writes into ``geospatial_lat_lon_extent`` (-999 when off disk)."""
    proj = FixedGridProjection.nominal(satellite)
    x, y = frame.centres(1)
    lon, lat = fixed_grid_lonlat(x[:: max(1, len(x) // 50)], y[:: max(1, len(y) // 50)], proj)
    clon, clat = fixed_grid_lonlat(np.array([x.mean()]), np.array([y.mean()]), proj)
    on_disk = np.isfinite(lon).any()

    def f32(reduce, values):
        return np.float32(reduce(values) if on_disk else -999.0)

    return {
        "geospatial_westbound_longitude": f32(np.nanmin, lon),
        "geospatial_northbound_latitude": f32(np.nanmax, lat),
        "geospatial_eastbound_longitude": f32(np.nanmax, lon),
        "geospatial_southbound_latitude": f32(np.nanmin, lat),
        "geospatial_lat_center": np.float32(clat[0, 0]),
        "geospatial_lon_center": np.float32(clon[0, 0]),
        "geospatial_lon_nadir": np.float32(PLATFORMS[satellite].projection_lon),
    }


def scan_name(satellite: str, sector: str, mode: int, band: int, start: datetime) -> ABIFileName:
    """The file name NOAA would give this band of the scan (end and creation times included)."""
    from .sectors import BAND_EXTRA_S, SCAN_LENGTH_S

    end = start + timedelta(seconds=SCAN_LENGTH_S[sector] + BAND_EXTRA_S.get(band, 0.0))
    created = end + timedelta(seconds=4.7)
    return ABIFileName(satellite, sector, start, band, mode, end, created)
