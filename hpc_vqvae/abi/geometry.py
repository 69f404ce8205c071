"""Fixed-grid geolocation and solar geometry, vectorised.

Longitude/latitude follow the GOES-R Product User's Guide (vol. 3, sec. 5.1.2.8): the scan
angles (x, y) of the fixed grid are intersected with the GRS80 ellipsoid seen from the
satellite. The sun's position uses the standard low-precision formulas of Meeus, *Astronomical
Algorithms*, ch. 12 and 25 (about 0.01 deg), which is what Earth-observation tools use.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import xarray as xr

from .epoch import days_since_j2000
from .projection import FixedGridProjection


def _projection(da: xr.DataArray) -> FixedGridProjection:
    return FixedGridProjection.from_attrs(da.attrs, f"{da.name!r} (not from read_band?)")


def _surface(x, y, r_eq: float, r_pol: float, h: float, grid: bool = True):
    """Satellite-centred (s_x, s_y, s_z) of the ellipsoid point each scan angle sees; NaN off
    disk. PUG vol. 3, 5.1.2.8.1. With ``grid``, x and y are 1-D and the result 2-D (y, x);
    else x and y are points, pairwise."""
    xx = np.asarray(x, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    if grid:
        xx, yy = xx[None, :], yy[:, None]
    sin_x, cos_x = np.sin(xx), np.cos(xx)
    sin_y, cos_y = np.sin(yy), np.cos(yy)
    a = sin_x**2 + cos_x**2 * (cos_y**2 + (r_eq / r_pol) ** 2 * sin_y**2)
    b = -2.0 * h * cos_x * cos_y
    c = h**2 - r_eq**2
    disc = b**2 - 4.0 * a * c
    with np.errstate(invalid="ignore"):
        r_s = (-b - np.sqrt(np.where(disc >= 0, disc, np.nan))) / (2.0 * a)
    return r_s * cos_x * cos_y, -r_s * sin_x, r_s * cos_x * sin_y


def fixed_grid_lonlat(
    x: np.ndarray, y: np.ndarray, proj: FixedGridProjection
) -> tuple[np.ndarray, np.ndarray]:
    """Scan angles (radians; 1-D x and y of a grid) -> 2-D (lon, lat) in degrees, NaN off disk."""
    r_eq, r_pol = proj.semi_major_axis, proj.semi_minor_axis
    h = proj.perspective_point_height + proj.semi_major_axis
    s_x, s_y, s_z = _surface(x, y, r_eq, r_pol, h)
    lat = np.degrees(np.arctan((r_eq / r_pol) ** 2 * s_z / np.hypot(h - s_x, s_y)))
    lon = proj.longitude_of_projection_origin - np.degrees(np.arctan(s_y / (h - s_x)))
    lon = (lon + 180.0) % 360.0 - 180.0
    return lon, lat


def lonlat_to_fixed_grid(
    lon: np.ndarray, lat: np.ndarray, proj: FixedGridProjection
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (deg) -> scan angles (x, y) in radians, NaN where the satellite
    cannot see the point (beyond the limb): PUG vol. 3, 5.1.2.8.2, the inverse of
    ``fixed_grid_lonlat``. What puts map lines (coasts, borders) on a scan's own grid."""
    r_eq, r_pol = proj.semi_major_axis, proj.semi_minor_axis
    h = proj.perspective_point_height + proj.semi_major_axis
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    dlon = np.radians(np.asarray(lon, dtype=np.float64) - proj.longitude_of_projection_origin)
    phi_c = np.arctan((r_pol / r_eq) ** 2 * np.tan(lat_r))  # geocentric latitude
    e2 = 1.0 - (r_pol / r_eq) ** 2
    r_c = r_pol / np.sqrt(1.0 - e2 * np.cos(phi_c) ** 2)
    s_x = h - r_c * np.cos(phi_c) * np.cos(dlon)
    s_y = -r_c * np.cos(phi_c) * np.sin(dlon)
    s_z = r_c * np.sin(phi_c)
    hidden = h * (h - s_x) < s_y**2 + (r_eq / r_pol) ** 2 * s_z**2
    x = np.arcsin(-s_y / np.sqrt(s_x**2 + s_y**2 + s_z**2))
    y = np.arctan(s_z / s_x)
    return np.where(hidden, np.nan, x), np.where(hidden, np.nan, y)


def fixed_grid_sun_zenith(
    x: np.ndarray, y: np.ndarray, t: datetime | np.datetime64, proj: FixedGridProjection
) -> np.ndarray:
    """``sun_zenith(t, *fixed_grid_lonlat(x, y, ...))`` without lon/lat: the sines and cosines
    of latitude and longitude are ratios of the surface point's coordinates, so one sqrt and
    one arccos per pixel replace five trigonometric passes (the stage's per-scan geometry)."""
    r_eq, r_pol = proj.semi_major_axis, proj.semi_minor_axis
    h = proj.perspective_point_height + proj.semi_major_axis
    s_x, s_y, s_z = _surface(x, y, r_eq, r_pol, h)
    ra, dec = sun_ra_dec(t)
    # hour angle = (lon - lon0) + k; tan(lon - lon0) = -s_y / (h - s_x)
    k = greenwich_sidereal_angle(t) + np.radians(proj.longitude_of_projection_origin) - ra
    q = (r_eq / r_pol) ** 2 * s_z  # tan(lat) = q / hypot(h - s_x, s_y)
    horiz = (h - s_x) * np.cos(k) + s_y * np.sin(k)
    cos_zen = (q * np.sin(dec) + horiz * np.cos(dec)) / np.sqrt((h - s_x) ** 2 + s_y**2 + q**2)
    return np.degrees(np.arccos(np.clip(cos_zen, -1.0, 1.0)))


def fixed_grid_lon_points(
    x: np.ndarray, y: np.ndarray, proj: FixedGridProjection, origin_lon: np.ndarray | None = None
) -> np.ndarray:
    """Longitude (deg) of scan-angle points (x[i], y[i]), NaN off disk; ``origin_lon`` gives
    each point its own projection longitude (scans of different satellites)."""
    r_eq, r_pol = proj.semi_major_axis, proj.semi_minor_axis
    h = proj.perspective_point_height + proj.semi_major_axis
    s_x, s_y, _ = _surface(x, y, r_eq, r_pol, h, grid=False)
    lon0 = proj.longitude_of_projection_origin if origin_lon is None else origin_lon
    return (lon0 - np.degrees(np.arctan(s_y / (h - s_x))) + 180.0) % 360.0 - 180.0


def lonlat(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) in degrees for every pixel of a band read by ``read_band``; NaN off the disk."""
    return fixed_grid_lonlat(da["x"].values, da["y"].values, _projection(da))


# --- sun ---------------------------------------------------------------------------------------


def sun_ra_dec(t: datetime | np.datetime64) -> tuple[float, float]:
    """Geometric right ascension and declination of the sun (radians), Meeus ch. 25."""
    cent = days_since_j2000(t) / 36525.0
    mean_lon = 280.46646 + 36000.76983 * cent + 0.0003032 * cent**2
    anomaly = np.radians(357.52911 + 35999.05029 * cent - 0.0001537 * cent**2)
    centre = (
        (1.914602 - 0.004817 * cent - 0.000014 * cent**2) * np.sin(anomaly)
        + (0.019993 - 0.000101 * cent) * np.sin(2 * anomaly)
        + 0.000289 * np.sin(3 * anomaly)
    )
    true_lon = np.radians(mean_lon + centre)
    obliquity = np.radians(
        23.0
        + 26.0 / 60
        + 21.448 / 3600
        - (46.8150 * cent + 0.00059 * cent**2 - 0.001813 * cent**3) / 3600
    )
    ra = np.arctan2(np.cos(obliquity) * np.sin(true_lon), np.cos(true_lon))
    dec = np.arcsin(np.sin(obliquity) * np.sin(true_lon))
    return float(ra), float(dec)


def greenwich_sidereal_angle(t: datetime | np.datetime64) -> float:
    """Greenwich mean sidereal time as an angle (radians), Meeus eq. 12.4."""
    days = days_since_j2000(t)
    cent = days / 36525.0
    theta = 280.46061837 + 360.98564736629 * days + 0.000387933 * cent**2 - cent**3 / 38710000.0
    return float(np.radians(theta % 360.0))


def sun_zenith(t: datetime | np.datetime64, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Solar zenith angle in degrees at time ``t`` (UTC) for lon/lat in degrees (NaN stays NaN)."""
    ra, dec = sun_ra_dec(t)
    hour_angle = greenwich_sidereal_angle(t) + np.radians(lon) - ra
    lat_r = np.radians(lat)
    cos_zen = np.sin(lat_r) * np.sin(dec) + np.cos(lat_r) * np.cos(dec) * np.cos(hour_angle)
    return np.degrees(np.arccos(np.clip(cos_zen, -1.0, 1.0)))


def solar_zenith(da: xr.DataArray) -> xr.DataArray:
    """Solar zenith (degrees) of every pixel of a band at its scan's mid time; NaN off disk."""
    when = np.datetime64(da.attrs["time"])
    sza = fixed_grid_sun_zenith(da["x"].values, da["y"].values, when, _projection(da))
    sza = sza.astype(np.float32)
    return xr.DataArray(
        sza,
        dims=("y", "x"),
        coords={"y": da["y"], "x": da["x"]},
        name="solar_zenith_angle",
        attrs={"units": "degree", "standard_name": "solar_zenith_angle", "time": da.attrs["time"]},
    )
