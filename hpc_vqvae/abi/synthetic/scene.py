"""A physically coupled synthetic scene: clouds, land and sea seen in all sixteen ABI bands.

One set of physical fields (cloud optical thickness and top height, surface type and
temperature, the sun's zenith) drives both the infrared brightness temperatures and the
visible reflectance factors, so that a model can learn IR -> visible from them:

- clouds: emissivity 1 - exp(-tau/2) mixes the cloud-top temperature (lapse rate 6.5 K/km)
  with the surface; thin ice cloud raises C11-C13 and C13-C15 (split window) as real cirrus
  does; clear sky loses a little to water vapour, more at 8.4 and 12.3 um;
- reflectance: two-stream cloud albedo tau / (tau + 7.7) over a band-dependent surface albedo
  (ocean darkest, land brighter, vegetation bright in C03), times cos(solar zenith), so ~0 at
  night; ice clouds absorb at 1.6 and 2.2 um; only high clouds show at 1.37 um.

Fields are made on the 1 km grid; 0.5 km bands get sub-pixel texture, 2 km bands are block
means. Geography (land/sea) is fixed in lon/lat; clouds are new for every scan's seed, or
those of persistent weather systems (weather.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..bands import BANDS

# Clear-sky brightness-temperature offsets from the 10.3 um window (K): water vapour, ozone, CO2.
CLEAR_OFFSET = {
    7: -1.5,
    8: -48.0,
    9: -38.0,
    10: -28.0,
    11: -1.8,
    12: -22.0,
    13: 0.0,
    14: -0.6,
    15: -2.2,
    16: -16.0,
}
# Levels (K) above which the absorbing bands do not see: a cloud colder than this shows.
ABSORBER_T = {8: 232.0, 9: 242.0, 10: 252.0, 12: 265.0, 16: 255.0}
# Surface albedo (ocean, land) and Rayleigh path reflectance per reflective band.
OCEAN_ALBEDO = {1: 0.05, 2: 0.03, 3: 0.015, 4: 0.0, 5: 0.01, 6: 0.005}
LAND_ALBEDO = {1: 0.07, 2: 0.12, 3: 0.32, 4: 0.0, 5: 0.24, 6: 0.14}
RAYLEIGH = {1: 0.07, 2: 0.03, 3: 0.01, 4: 0.0, 5: 0.002, 6: 0.0}
# Fraction of the visible cloud albedo kept at 1.6 / 2.2 um for (water, ice) clouds.
ABSORBING_CLOUD = {5: (0.85, 0.55), 6: (0.65, 0.35)}


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], length: float) -> np.ndarray:
    """Gaussian random field with correlation length ``length`` pixels, zero mean, unit std."""
    white = _noise(rng, shape)
    ky = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    spectrum = np.fft.rfft2(white) * np.exp(-2.0 * (np.pi * length) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(spectrum, s=shape).astype(np.float32)
    return (field - field.mean()) / (field.std() + 1e-12)


def coarse_noise(rng: np.random.Generator, shape: tuple[int, int], length: float) -> np.ndarray:
    """smooth_noise made at half resolution and repeated: 4x cheaper, same look when smooth."""
    half = smooth_noise(rng, (shape[0] // 2, shape[1] // 2), length / 2)
    return half.repeat(2, axis=0).repeat(2, axis=1)


def land_fraction(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Fixed synthetic geography: 1 on land, 0 at sea, smooth coasts."""
    lo, la = np.radians(lon, dtype=np.float32), np.radians(lat, dtype=np.float32)
    f = (
        np.sin(6.0 * lo + 0.7) * np.cos(5.0 * la - 0.3)
        + 0.5 * np.sin(17.0 * lo + 13.0 * la)
        + 0.25 * np.sin(47.0 * lo - 35.0 * la + 1.1)
    )
    return np.clip((f - 0.1) * 4.0, 0.0, 1.0)


class Scene:
    """The physical state of one scan on a 1 km grid, and what each band sees of it."""

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        sza: np.ndarray,
        rng: np.random.Generator,
        clouds: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        """``clouds``: (optical thickness, top height km) of persistent weather (weather.py);
        None draws fresh clouds from ``rng``."""
        shape = lon.shape
        self.valid = np.isfinite(lon)
        lon, lat = np.nan_to_num(lon), np.nan_to_num(lat)
        self.mu0 = np.clip(np.cos(np.radians(np.nan_to_num(sza, nan=180.0))), 0.0, 1.0)
        self.land = land_fraction(lon, lat).astype(np.float32)
        abs_lat = np.abs(lat).astype(np.float32)
        day = self.mu0.astype(np.float32)
        t_ocean = 301.0 - 0.35 * abs_lat
        t_land = 296.0 - 0.5 * abs_lat + 16.0 * day - 5.0 * (day == 0)
        self.t_sfc = self.land * t_land + (1 - self.land) * t_ocean
        self.t_sfc += 0.6 * coarse_noise(rng, shape, 6.0)
        self.wv = 2.2 - 1.2 * self.land  # clear-sky water-vapour cooling of the window (K)

        if clouds is None:  # the draws in their original order: fresh archives are unchanged
            cover = coarse_noise(rng, shape, 35.0) + 0.35 * smooth_noise(rng, shape, 6.0)
            threshold = rng.uniform(-0.2, 0.9)  # scenes range from overcast to mostly clear
            texture = np.exp(0.35 * smooth_noise(rng, shape, 2.0))
            self.tau = np.clip(18.0 * (cover - threshold), 0.0, 80.0) * texture
            height = 1.0 + 13.0 / (1.0 + np.exp(-1.6 * coarse_noise(rng, shape, 60.0) - 0.4))
        else:  # a system's brightness is its own (weather.py): only a little texture within it
            tau, height = clouds
            self.tau = tau * np.exp(0.1 * smooth_noise(rng, shape, 2.0))
        # a cloud top has the temperature of the air at its height: one per persistent system
        # (a standard atmosphere, 288 K at the ground), the local surface's less the lapse
        # for fresh clouds
        base = self.t_sfc if clouds is None else np.float32(288.0)
        self.t_top = np.maximum(base - 6.5 * height, 195.0)
        self.ice = (self.t_top < 253.0).astype(np.float32)
        self.emissivity = 1.0 - np.exp(-0.5 * self.tau)
        self.albedo = self.tau / (self.tau + 7.7)

    def brightness_temperature(self, band: int) -> np.ndarray:
        eps, ice = self.emissivity, self.ice
        clear = (
            self.t_sfc - self.wv * (1.0 if band in (11, 13, 14, 15) else 0.5) + CLEAR_OFFSET[band]
        )
        if band in ABSORBER_T:
            clear = np.minimum(clear, ABSORBER_T[band] + 0.2 * (clear - ABSORBER_T[band]))
        bt = eps * np.minimum(self.t_top, clear) + (1.0 - eps) * clear
        thin_ice = 4.0 * eps * (1.0 - eps) * ice
        if band == 11:
            bt = bt + 2.0 * thin_ice + 1.5 * ice * eps
        elif band == 15:
            bt = bt - 2.5 * thin_ice
        elif band == 14:
            bt = bt - 0.8 * thin_ice
        elif band == 7:
            bt = bt + 25.0 * self.mu0 * self.reflectance(6) / np.maximum(self.mu0, 0.05)
        return bt

    def reflectance(self, band: int) -> np.ndarray:
        albedo = self.albedo
        if band == 4:
            albedo = albedo * np.clip((250.0 - self.t_top) / 30.0, 0.0, 1.0)
        elif band in ABSORBING_CLOUD:
            water, ice = ABSORBING_CLOUD[band]
            albedo = albedo * (water + (ice - water) * self.ice)
        surface = self.land * LAND_ALBEDO[band] + (1.0 - self.land) * OCEAN_ALBEDO[band]
        total = albedo + (1.0 - albedo) ** 2 * surface / (1.0 - albedo * surface)
        return (total + RAYLEIGH[band]) * self.mu0

    def band(self, band: int, rng: np.random.Generator) -> np.ndarray:
        """The band's field at its native resolution with sensor noise; NaN off the disk."""
        if BANDS[band].emissive:
            field = self.brightness_temperature(band) + 0.08 * _noise(rng, self.tau.shape)
        else:
            field = self.reflectance(band) + 0.002 * _noise(rng, self.tau.shape)
        field = np.where(self.valid, field, np.nan).astype(np.float32)
        return to_resolution(field, BANDS[band].resolution_km, rng)


def to_resolution(
    field_1km: np.ndarray, resolution_km: float, rng: np.random.Generator
) -> np.ndarray:
    """1 km field -> 0.5 km (with sub-pixel texture that averages back out) or 2 km (block mean)."""
    if resolution_km == 1.0:
        return field_1km
    if resolution_km == 2.0:
        ny, nx = field_1km.shape
        return field_1km.reshape(ny // 2, 2, nx // 2, 2).mean(axis=(1, 3))
    fine = np.repeat(np.repeat(field_1km, 2, axis=0), 2, axis=1)
    fine *= _texture(fine.shape, rng)
    return fine


@lru_cache(maxsize=2)
def _fixed_texture(shape: tuple[int, int]) -> np.ndarray:
    """1 + zero-mean 2% noise whose 2x2 block means are exactly 1 (the 1 km field is kept)."""
    noise = 0.02 * _noise(np.random.default_rng(0x7E7), shape)
    ny, nx = shape[0] // 2, shape[1] // 2
    noise -= noise.reshape(ny, 2, nx, 2).mean(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    return 1.0 + noise


def _texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Sub-pixel texture for a scan: the fixed pattern rolled by an even random offset."""
    shift = 2 * rng.integers(0, [shape[0] // 2, shape[1] // 2])
    return np.roll(_fixed_texture(shape), tuple(shift), axis=(0, 1))
