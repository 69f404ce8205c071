"""The data stage's configuration: which store, which bands, how crops are drawn and scaled."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..abi.bands import INPUT_BANDS, band_list, band_name, check_disjoint
from ..errors import renamed_keys
from .split import SplitSettings

CHANNELS = ("R", "G", "B")

# ABI has no green band: G is a weighted sum of blue, red and the 0.86 um "veggie" band.
DEFAULT_TARGET: dict[str, dict[str, float]] = {
    "R": {"C02": 1.0},
    "G": {"C02": 0.48358168, "C01": 0.45706946, "C03": 0.06038137},
    "B": {"C01": 1.0},
}


RENAMED = {"day_sza_max": "target_sza_max"}  # old key -> new key, accepted for one release


class DataConfig(BaseModel):
    """Validated settings of the data stage; unknown keys are refused, naming the key."""

    model_config = ConfigDict(extra="forbid")

    store: Path  # the preprocessed Zarr store
    input_bands: list[str] = list(INPUT_BANDS)  # IR bands fed to the model
    # RGB target as weights of visible bands (G is synthetic: ABI has no green band)
    target: dict[str, dict[str, float]] = DEFAULT_TARGET
    # crop size (px, 2 km); a multiple of the model's downsampling (2**(len(model.ch_mult)-1),
    # checked by the training config, where both are known)
    patch_size: int = Field(256, ge=8)
    # the visible target is daytime: solar zenith below this (deg); was day_sza_max
    target_sza_max: float = Field(80.0, gt=0.0, le=180.0)
    # patch: the whole crop is daytime; pixel: night pixels are masked
    day_mode: Literal["patch", "pixel"] = "patch"
    # range (a fixed BT range) or zscore (the training days' statistics)
    ir_norm: Literal["range", "zscore"] = "range"
    ir_range: tuple[float, float] = (180.0, 330.0)  # BT range (K) mapped to [-1, 1]
    divide_by_cos_sza: bool = False  # target reflectance / cos(sza): sun-normalised
    reflectance_max: float = Field(1.2, gt=0.0)  # reflectance mapped to +1
    augment: bool = True  # flips and rot90
    samples_per_epoch: int = Field(1024, ge=1)  # crops per epoch (all ranks)
    # share of the days that validate (the end of each block, before the test days)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    # share of the days held out for evaluate, never trained on (each block's end)
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_blocks: int = Field(8, ge=1)  # contiguous train/val/test runs over the period
    # training (and validation) days within this many days of a scored day are dropped
    buffer_days: int = Field(1, ge=0)
    # what counts as a day: solar (local midnight, in the dark) or utc, which cuts a daylit
    # GOES-West afternoon in two and leaks; utc exists to measure that leak (test_leak.py)
    day_clock: Literal["solar", "utc"] = "solar"
    # blocks (contiguous runs) or shuffled (each day's role at random, seeded: neighbouring
    # days share weather, so it leaks; it exists to measure that leak, test_leak.py)
    day_order: Literal["blocks", "shuffled"] = "blocks"
    # leave out scans whose input bands' files report a warm focal plane (GOES-17's cooling
    # anomaly degraded C13/C14 on nights around the equinoxes of 2019-2022): not trained,
    # validated or scored on (stores of layout 5 record it)
    exclude_warm_focal_plane: bool = True
    val_patches_per_scan: int = Field(4, ge=1)  # fixed validation crops per scan
    crops_per_scan: int = Field(4, ge=1)  # consecutive samples of a rank share a scan read
    scan_cache: int = Field(2, ge=0)  # whole scans kept decoded per process (0: none)
    seed: int = Field(0, ge=0)  # data sampling seed
    num_workers: int = Field(0, ge=0)  # DataLoader workers per rank

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, values):
        return renamed_keys(values, RENAMED, "data.")

    @field_validator("input_bands", mode="before")
    @classmethod
    def _input_bands(cls, v):
        return band_list(v)

    @field_validator("target")
    @classmethod
    def _target(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        if set(v) != set(CHANNELS):
            raise ValueError(f"target needs exactly the channels R, G, B, got {sorted(v)}")
        out = {}
        for channel in CHANNELS:
            weights = {band_name(b): w for b, w in v[channel].items()}
            if not weights:
                raise ValueError(f"target channel {channel} has no bands")
            bad = {b: w for b, w in weights.items() if not math.isfinite(w)}
            if bad:
                raise ValueError(f"target channel {channel}: weights must be finite, got {bad}")
            out[channel] = weights
        return out

    @field_validator("ir_range")
    @classmethod
    def _ir_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"ir_range must be two finite temperatures, low < high; got {v}")
        return v

    @model_validator(mode="after")
    def _fractions(self):
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction {self.val_fraction} + test_fraction {self.test_fraction} leave "
                "no day to train on"
            )
        return self

    @model_validator(mode="after")
    def _no_leak(self):
        check_disjoint(self.input_bands, self.target_bands)
        return self

    @property
    def target_bands(self) -> list[str]:
        """Every band the composite needs, in first-use order."""
        return list(dict.fromkeys(b for weights in self.target.values() for b in weights))

    @property
    def bands(self) -> list[str]:
        return self.input_bands + self.target_bands

    @property
    def split(self) -> SplitSettings:
        return SplitSettings(
            self.val_fraction,
            self.test_fraction,
            self.split_blocks,
            self.buffer_days,
            self.day_clock,
            self.day_order,
            self.seed,
        )
