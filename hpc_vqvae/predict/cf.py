"""Prediction's outputs as CF datasets: synthetic R, G, B reflectance on the fixed grid with
the ``goes_imager_projection`` grid mapping and x/y scan angles (so that satpy, pyresample and
cartopy users can map it), the solar zenith, lat/lon on request, and attributes that say it is
AI-generated and which model made it."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import xarray as xr

from ..abi.epoch import J2000
from ..abi.geometry import fixed_grid_lonlat
from ..abi.grid import GriddedScan
from ..abi.projection import FixedGridProjection
from ..errors import UsageError
from ..model.translator import Translator
from ..store.layout import (
    CONVENTIONS,
    FIXED_GRID_X,
    FIXED_GRID_Y,
    GRID_MAPPING,
    TIME_ATTRS,
    scan_angle_attrs,
)
from .sources import ScanBatch, StoreRange, iso

NETCDF_TIME = {"units": f"seconds since {J2000:%Y-%m-%d %H:%M:%S}", "dtype": "float64"}
# Scan angles of one grid agree to far better than this; moved meso sectors differ by >= 28 urad.
SAME_GRID_RAD = 1e-9
SUN_NORMALISED = "reflectance factor / cos(solar zenith): the scene as lit by an overhead sun"
AT_SCAN_GEOMETRY = (
    "reflectance factor as daytime scenes had it at their own solar geometry; the model, "
    "trained on daytime only, draws a daylit scene at night too, not a dark one"
)
SYNTHETIC = (
    "synthetic: a model's estimate from infrared brightness temperatures, not an observation"
)


def _reflectance_vars(
    rgb: np.ndarray, ir_ok: np.ndarray, dims: tuple, extra: dict, sun_normalised: bool
) -> dict:
    """R, G, B from (..., 3, H, W), NaN wherever an input band is invalid, named for what
    they are: a model's output, in either convention, carries no observation's standard name
    (CF's ``toa_bidirectional_reflectance`` is a measured quantity), and says it is synthetic
    and which convention it follows."""
    rgb = np.where(np.expand_dims(ir_ok, -3), rgb, np.nan).astype(np.float32)
    attrs = {"grid_mapping": GRID_MAPPING, "units": "1", **extra}

    def names(c: str) -> dict:
        if sun_normalised:
            return {
                "long_name": f"synthetic {c} reflectance factor / cos(solar zenith)",
                "comment": f"{SYNTHETIC}; {SUN_NORMALISED}; not a top-of-atmosphere "
                "reflectance at the scan's solar geometry",
            }
        return {
            "long_name": f"synthetic {c} reflectance factor",
            "comment": f"{SYNTHETIC}; {AT_SCAN_GEOMETRY}",
        }

    return {c: (dims, np.take(rgb, i, axis=-3), {**attrs, **names(c)}) for i, c in enumerate("RGB")}


def _sza_var(sza: np.ndarray, dims: tuple) -> tuple:
    attrs = {"units": "degree", "standard_name": "solar_zenith_angle", "grid_mapping": GRID_MAPPING}
    return dims, sza.astype(np.float32), attrs


def _projection_var(proj: FixedGridProjection) -> tuple:
    return (), np.int32(0), proj.cf_grid_mapping()


def _lonlat_vars(x: np.ndarray, y: np.ndarray, proj: FixedGridProjection, dims: tuple) -> dict:
    """lon/lat on 1-D x/y, or per scan for stacked (N, nx)/(N, ny) scan angles."""
    if x.ndim == 1:
        lon, lat = fixed_grid_lonlat(x, y, proj)
    else:
        per_scan = [fixed_grid_lonlat(a, b, proj) for a, b in zip(x, y, strict=True)]
        lon, lat = (np.stack(v) for v in zip(*per_scan, strict=True))
    return {
        "lon": (
            dims,
            lon.astype(np.float32),
            {"units": "degrees_east", "standard_name": "longitude"},
        ),
        "lat": (
            dims,
            lat.astype(np.float32),
            {"units": "degrees_north", "standard_name": "latitude"},
        ),
    }


def _xy_coords(x: np.ndarray, y: np.ndarray) -> dict:
    """The CF projection coordinates: scan angles of a grid shared by every scan."""

    def coord(axis: str, values: np.ndarray) -> tuple:
        return (
            axis,
            values,
            {
                "units": "rad",
                "axis": axis.upper(),
                "standard_name": f"projection_{axis}_coordinate",
                "long_name": f"GOES fixed grid projection {axis}-coordinate",
            },
        )

    return {"x": coord("x", x), "y": coord("y", y)}


def _scan_angle_attrs(axis: str, shared_grid: bool) -> dict:
    """The per-scan angles, named as in the store where the scans move (meso sectors); on a
    shared grid the 1-D x/y carry CF's projection names, which CF allows on one variable."""
    attrs = scan_angle_attrs(axis)
    if shared_grid:
        del attrs["standard_name"]
    return attrs


def coordinate_encoding(ds: xr.Dataset) -> dict:
    """Coordinates that CF forbids a fill value (scan angles: never missing) and CF time."""
    enc = {
        c: {"_FillValue": None} for c in ds.coords if c in ("x", "y", FIXED_GRID_X, FIXED_GRID_Y)
    }
    return enc


def global_attrs(model: Translator, platform: str, sector: str) -> dict:
    command = " ".join(["python -m hpc_vqvae.predict", *map(shlex.quote, sys.argv[1:])])
    return {
        "Conventions": CONVENTIONS,
        "title": "Synthetic visible imagery from infrared (AI-generated)",
        "source": "AI-generated by a VQVAE-GAN (hpc-vqvae) from ABI bands "
        + ",".join(model.input_bands)
        + "; not an observation",
        "ai_generated": "true",
        "model_checkpoint": str(model.checkpoint.resolve()),
        "model_step": int(model.meta.get("step", -1)),
        "mlflow_run_id": str(model.meta.get("mlflow_run_id") or ""),
        "platform": platform,
        "sector": sector,
        "reflectance_convention": SUN_NORMALISED if model.sun_normalised else AT_SCAN_GEOMETRY,
        "history": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {command}",
    }


def scan_dataset(
    rgb: np.ndarray, scan: GriddedScan, sza: np.ndarray, model: Translator, latlon: bool
) -> xr.Dataset:
    """One archive scan: R, G, B on the fixed grid with the geostationary grid mapping, the
    scan time as a scalar coordinate and lat/lon (on request) as auxiliary coordinates."""
    yx = ("y", "x")
    ir_ok = np.all([np.isfinite(scan.bands[b]) for b in model.input_bands], axis=0)
    data = _reflectance_vars(rgb, ir_ok, yx, {}, model.sun_normalised)
    data["solar_zenith_angle"] = _sza_var(sza, yx)
    data[GRID_MAPPING] = _projection_var(scan.projection)
    coords = {
        **_xy_coords(scan.x, scan.y),
        "t": ((), np.datetime64(scan.attrs["time"], "ns"), TIME_ATTRS),
    }
    if latlon:
        coords.update(_lonlat_vars(scan.x, scan.y, scan.projection, yx))
    attrs = global_attrs(model, scan.attrs["platform"], scan.attrs["sector"])
    attrs["scan_start"] = scan.attrs["start_time"]
    return xr.Dataset(data, coords=coords, attrs=attrs)


@dataclass(frozen=True)
class RangeLayout:
    """What every batch of a range's output shares, decided once for the whole range so that
    every appended batch matches the first."""

    proj: FixedGridProjection
    shared_grid: bool  # every scan on one fixed grid (full disk, CONUS, a meso sector at rest)
    latlon: bool
    attrs: dict
    sun_normalised: bool
    blend: tuple[float, float] | None = None  # --blend's solar zenith band (deg)

    @classmethod
    def of(
        cls,
        model: Translator,
        scans: StoreRange,
        latlon: bool,
        blend: tuple[float, float] | None = None,
    ) -> RangeLayout:
        """One grid mapping serves the range: its scans must share a projection (a range
        across a handover to a satellite on another longitude is refused, in one line).
        It looks at every scan of the range: one rank decides, and broadcasts it."""
        store, index = scans.store, scans.index
        lon = store.projection_longitudes(index)
        moved = np.flatnonzero(lon != lon[0])
        if moved.size:
            i = int(moved[0])
            satellite = store.scan_satellites([index[i]])[0]
            raise UsageError(
                f"the range changes fixed grid at {iso(scans.time[i])} ({satellite}, "
                f"projection longitude {lon[i]} after {lon[0]}): predict each side alone"
            )
        satellites = ",".join(sorted(set(store.scan_satellites(index))))
        attrs = global_attrs(model, satellites, store.attrs["sector"])
        attrs.update(
            source_store=str(store.path.resolve()),
            time_coverage_start=iso(scans.time[0]),
            time_coverage_end=iso(scans.time[-1]),
        )
        shared = _one_grid(store.group, index)
        if blend is not None:  # the observed visible, by day: the bands training took
            try:  # its targets from
                store.require_arrays(model.data_cfg.target_bands)
            except UsageError as err:
                raise UsageError(f"--blend shows the observed visible by day: {err}") from None
        return cls(
            store.scan_projections(index[:1])[0],
            shared,
            latlon,
            attrs,
            model.sun_normalised,
            blend,
        )


def _one_grid(group, index: np.ndarray) -> bool:
    """Whether every scan of the range has the first one's scan angles. Read a shard of rows
    at a time (a 5-year range holds gigabytes of them), stopping at the first that differs:
    meso sectors move, so that is usually soon."""
    for name in (FIXED_GRID_X, FIXED_GRID_Y):
        array = group[name]
        step = (array.shards or array.chunks)[0]
        first = array[int(index[0])]
        for start in range(0, len(index), step):
            rows = np.asarray(array.oindex[index[start : start + step]])
            if np.abs(rows - first).max() >= SAME_GRID_RAD:
                return False
    return True


def batch_dataset(batch: ScanBatch, rgb: np.ndarray, layout: RangeLayout) -> xr.Dataset:
    """A batch of a range, dims (time, y, x). Meso sectors move between scans, so the scan
    angles are kept per scan (``fixed_grid_x/y``, as in the store); only where every scan of
    the range shares one grid are they also the 1-D CF coordinates x/y."""
    tyx, proj = ("time", "y", "x"), layout.proj
    data = _reflectance_vars(rgb, np.isfinite(batch.bt).all(1), tyx, {}, layout.sun_normalised)
    data["solar_zenith_angle"] = _sza_var(batch.sza, tyx)
    data[GRID_MAPPING] = _projection_var(proj)
    coords = {
        "time": ("time", batch.time, {**TIME_ATTRS, "long_name": "scan start (UTC)"}),
        FIXED_GRID_X: (("time", "x"), batch.x, _scan_angle_attrs("x", layout.shared_grid)),
        FIXED_GRID_Y: (("time", "y"), batch.y, _scan_angle_attrs("y", layout.shared_grid)),
    }
    if layout.shared_grid:
        coords.update(_xy_coords(batch.x[0], batch.y[0]))
    if layout.latlon and layout.shared_grid:
        coords.update(_lonlat_vars(batch.x[0], batch.y[0], proj, ("y", "x")))
    elif layout.latlon:
        coords.update(_lonlat_vars(batch.x, batch.y, proj, tyx))
    return xr.Dataset(data, coords=coords, attrs=layout.attrs)
