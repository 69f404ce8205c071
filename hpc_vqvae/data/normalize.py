"""Physical units <-> network units.

Infrared brightness temperature (K) goes to [-1, 1] by a fixed range (``ir_norm="range"``,
the same mapping for every store, so a model transfers between stores) or to z-scores with
the store's statistics (``"zscore"``, clipped to [-5, 5]: values beyond are sensor or
regridding outliers, not weather). The visible target is the RGB composite of reflectance
factors, optionally divided by cos(sza) to take out the sun's elevation, mapped by
2 * clip(r / reflectance_max, 0, 1) - 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import torch

from .config import DataConfig

ZSCORE_CLIP = 5.0
# cos(sza) is floored so that division near and past the terminator stays finite; the clip
# to reflectance_max bounds the result, and such pixels are masked as night anyway.
COS_FLOOR = 0.01

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


class Normalizer:
    """Scales one crop's bands for the network, and back for the visible target."""

    def __init__(self, cfg: DataConfig, statistics: Mapping[str, Mapping], source: str):
        self.cfg = cfg
        c = len(cfg.input_bands)
        if cfg.ir_norm == "zscore":
            stats = [_band_stats(statistics, b, source) for b in cfg.input_bands]
            self._shift = np.array([s["mean"] for s in stats], np.float32)
            self._scale = np.array([s["std"] for s in stats], np.float32)
            self._clip = ZSCORE_CLIP
        else:
            lo, hi = cfg.ir_range
            self._shift = np.full(c, (lo + hi) / 2, np.float32)
            self._scale = np.full(c, (hi - lo) / 2, np.float32)
            self._clip = 1.0

    def ir(self, bt: np.ndarray) -> np.ndarray:
        """(C, ...) brightness temperatures in input_bands order -> float32, clipped; NaN kept."""
        per_band = (-1,) + (1,) * (bt.ndim - 1)
        x = (bt.astype(np.float32) - self._shift.reshape(per_band)) / self._scale.reshape(per_band)
        return np.clip(x, -self._clip, self._clip)

    def composite(self, bands: Mapping[str, np.ndarray]) -> np.ndarray:
        """Reflectance factors by band -> (3, ...) R, G, B reflectance with the target weights."""
        return np.stack(
            [
                sum(np.float32(w) * bands[b].astype(np.float32) for b, w in weights.items())
                for weights in self.cfg.target.values()
            ]
        )

    def vis(self, refl: np.ndarray, sza: np.ndarray) -> np.ndarray:
        """(3, H, W) composite reflectance and (H, W) solar zenith (deg) -> [-1, 1]; NaN kept."""
        r = refl.astype(np.float32)
        if self.cfg.divide_by_cos_sza:
            cos = np.maximum(np.cos(np.deg2rad(sza, dtype=np.float32)), np.float32(COS_FLOOR))
            r = r / cos
        return 2 * np.clip(r / np.float32(self.cfg.reflectance_max), 0, 1) - 1

    def vis_to_reflectance(self, x: ArrayT) -> ArrayT:
        """Network visible output -> composite reflectance (cos(sza) is not multiplied back)."""
        return (x + 1) / 2 * self.cfg.reflectance_max


def _band_stats(statistics: Mapping[str, Mapping], band: str, source: str) -> Mapping:
    s = statistics.get(band)
    if s is None:
        raise ValueError(f"band {band} has no statistics in {source}; ir_norm='zscore' needs them")
    if not (np.isfinite(s["mean"]) and np.isfinite(s["std"]) and s["std"] > 0):
        raise ValueError(f"band {band}: unusable statistics in {source}: {dict(s)}")
    return s
