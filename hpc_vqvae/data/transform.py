"""Physical units <-> network units: the one transform between a store's values and the
network's, used alike by the training dataset, ``predict``, ``evaluate`` and the MLflow model,
so that every path feeds the network the same numbers and reads its output the same way.

- Input: infrared brightness temperature (K) goes to [-1, 1] by a fixed range
  (``ir_norm="range"``, the same mapping for every store, so a model transfers between stores)
  or to z-scores with the statistics of the training days (``"zscore"``, clipped to [-5, 5]:
  values beyond are sensor or regridding outliers, not weather). Missing values (NaN) are
  filled AFTER scaling, with ``INPUT_FILL`` = 0 in network units: the range's centre or the
  training mean (about 255 K), the neutral value the model was trained with. Filled before
  scaling, 0 K would read as the coldest cloud top and change the prediction around a hole.
- Target: the RGB composite of reflectance factors, optionally divided by cos(sza) to take
  out the sun's elevation, mapped by 2 * clip(r / reflectance_max, 0, 1) - 1; missing values
  become ``TARGET_FILL`` (masked out of every loss and score).
- Output: network units back to R, G, B reflectance in the target's convention (a model
  trained on reflectance / cos(sza) predicts the scene under an overhead sun; the cos(sza)
  is not multiplied back).
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
INPUT_FILL = 0.0  # network units: missing IR reads as the range's centre / training mean
TARGET_FILL = 0.0  # network units: missing target (never scored: the mask excludes it)

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


class Transform:
    """A model's input, target and output conventions, from its data settings and the
    statistics of its training days (which travel with its export)."""

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

    def input(self, bt: np.ndarray, axis: int = 0) -> np.ndarray:
        """Brightness temperatures (K) of the input bands, in input_bands order along
        ``axis`` -> the network's input: float32, clipped, NaN filled with INPUT_FILL."""
        per_band = [1] * bt.ndim
        per_band[axis] = -1
        x = (bt.astype(np.float32) - self._shift.reshape(per_band)) / self._scale.reshape(per_band)
        return np.nan_to_num(np.clip(x, -self._clip, self._clip), nan=INPUT_FILL)

    def target(self, bands: Mapping[str, np.ndarray], sza: np.ndarray, axis: int = 0):
        """Reflectance factors by target band and solar zenith (deg), same shape -> the
        network's target: (R, G, B) along ``axis`` in [-1, 1], NaN filled with TARGET_FILL."""
        return np.nan_to_num(self._scaled_target(bands, sza, axis), nan=TARGET_FILL)

    def target_reflectance(self, bands: Mapping[str, np.ndarray], sza: np.ndarray, axis: int = 0):
        """The real R, G, B reflectance in the convention the model predicts (NaN kept):
        what its output is put beside."""
        return self.reflectance(self._scaled_target(bands, sza, axis))

    def reflectance(self, x: ArrayT) -> ArrayT:
        """Network output (or target) -> R, G, B reflectance in the target's convention."""
        return (x + 1) / 2 * self.cfg.reflectance_max

    def reflectance_to_network(self, r: np.ndarray) -> np.ndarray:
        """The inverse of ``reflectance``: a reflectance in the target's convention ->
        network units (for a baseline fitted where the network is)."""
        return 2 * r / np.float32(self.cfg.reflectance_max) - 1

    def input_valid(self, bt: np.ndarray, axis: int = 0) -> np.ndarray:
        """Where every input band is present: where an output is defined."""
        return np.isfinite(bt).all(axis)

    def valid(self, bt: np.ndarray, bands: Mapping[str, np.ndarray], axis: int = 0):
        """Where every input and target band is present: the pixels a loss or score sees
        (by day: sza < target_sza_max as well)."""
        ok = self.input_valid(bt, axis)
        for b in self.cfg.target_bands:
            ok = ok & np.isfinite(bands[b])
        return ok

    def composite(self, bands: Mapping[str, np.ndarray], axis: int = 0) -> np.ndarray:
        """The R, G, B reflectance factors of the target bands, unscaled and unclipped (NaN
        kept): plain reflectance, the space an evaluation's ``paper`` convention scores in."""
        return np.stack(
            [
                sum(np.float32(w) * bands[b].astype(np.float32) for b, w in weights.items())
                for weights in self.cfg.target.values()
            ],
            axis,
        )

    def _scaled_target(self, bands: Mapping[str, np.ndarray], sza: np.ndarray, axis: int):
        r = self.composite(bands, axis)
        if self.cfg.divide_by_cos_sza:
            r = r / np.expand_dims(cos_sza(sza), axis)
        return 2 * np.clip(r / np.float32(self.cfg.reflectance_max), 0, 1) - 1


def cos_sza(sza: np.ndarray) -> np.ndarray:
    """cos(solar zenith) floored at COS_FLOOR, float32: what a sun-normalised target is divided
    by, and what an evaluation multiplies a sun-normalised prediction back by."""
    return np.maximum(np.cos(np.deg2rad(sza, dtype=np.float32)), np.float32(COS_FLOOR))


def _band_stats(statistics: Mapping[str, Mapping], band: str, source: str) -> Mapping:
    s = statistics.get(band)
    if s is None:
        raise ValueError(f"band {band} has no statistics in {source}; ir_norm='zscore' needs them")
    if not (np.isfinite(s["mean"]) and np.isfinite(s["std"]) and s["std"] > 0):
        raise ValueError(f"band {band}: unusable statistics in {source}: {dict(s)}")
    return s
