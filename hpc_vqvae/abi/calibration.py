"""Radiance <-> brightness temperature / reflectance factor, as in the GOES-R PUG vol. 3.

Emissive bands: BT = (fk2 / ln(fk1 / L + 1) - bc1) / bc2 (K). Reflective bands: R = kappa0 * L,
a unitless reflectance factor (not percent); kappa0 = pi d^2 / esun already holds the
Earth-Sun distance of the scan. The inverses are used by the synthetic archive.
"""

from __future__ import annotations

import numpy as np


def brightness_temperature(
    rad: np.ndarray, fk1: float, fk2: float, bc1: float, bc2: float
) -> np.ndarray:
    """Radiance (mW m-2 sr-1 (cm-1)-1) -> BT (K); non-positive radiance -> NaN (log domain)."""
    rad = np.asarray(rad, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bt = (fk2 / np.log(fk1 / rad + 1.0) - bc1) / bc2
    return np.where(rad > 0, bt, np.nan)


def radiance_from_bt(bt: np.ndarray, fk1: float, fk2: float, bc1: float, bc2: float) -> np.ndarray:
    """Inverse of brightness_temperature."""
    t_eff = bc1 + bc2 * np.asarray(bt, dtype=np.float64)
    return fk1 / np.expm1(fk2 / t_eff)


def reflectance_factor(rad: np.ndarray, kappa0: float) -> np.ndarray:
    """Radiance (W m-2 sr-1 um-1) -> reflectance factor (unitless), in the input's precision."""
    rad = np.asarray(rad)
    return rad * rad.dtype.type(kappa0) if rad.dtype.kind == "f" else rad * kappa0


def radiance_from_reflectance(refl: np.ndarray, kappa0: float) -> np.ndarray:
    """Inverse of reflectance_factor (keeps the input's float precision)."""
    return np.asarray(refl) / kappa0


def kappa0(esun: float, earth_sun_distance_au: float) -> float:
    """kappa0 = pi d^2 / esun, the factor NOAA stores in every reflective-band file."""
    return float(np.pi * earth_sun_distance_au**2 / esun)
