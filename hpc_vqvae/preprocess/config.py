"""The preprocessing stage's configuration: one flat, validated schema (YAML file + flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..abi.bands import INPUT_BANDS, TARGET_BANDS, band_number
from ..abi.grid import GridSettings
from ..abi.platforms import SATELLITE_CHOICES
from ..abi.selection import Every, Hours, Years
from ..errors import ConfigError, one_line, renamed_keys

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "preprocess.yaml"
RENAMED = {"day_sza_max": "stats_sza_max"}  # old key -> new key, accepted for one release


def _band_list(value) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    bands = [f"C{band_number(b):02d}" for b in items if str(b).strip()]
    if not bands:
        raise ValueError("no bands given")
    if len(set(bands)) != len(bands):
        raise ValueError(f"duplicate bands in {bands}")
    return bands


class PreprocessConfig(BaseModel):
    """Which archive scans to turn into which store, and how."""

    model_config = ConfigDict(extra="forbid")

    archive: Path  # root of the L1b tree
    output: Path  # the Zarr store
    years: Years  # e.g. 2019-2023, 2021, 2019,2021
    # G16..G19, or east/west: the operational satellite of each day
    satellite: Literal[SATELLITE_CHOICES] = "west"  # type: ignore[valid-type]
    sector: Literal["F", "C", "M1", "M2"] = "M1"  # F (full disk), C (CONUS), M1, M2 (mesoscale)
    hours: Hours = None  # UTC hours kept (inclusive ranges); None keeps all
    every: Every = None  # keep scans whose minute of day is a multiple
    input_bands: list[str] = list(INPUT_BANDS)  # IR bands stored
    target_bands: list[str] = list(TARGET_BANDS)  # visible bands stored
    mask_dqf: bool = True  # DQF >= 2 becomes NaN
    min_valid_fraction: float = Field(0.5, gt=0.0, le=1.0)  # of fine pixels in a 2 km mean
    # daytime for statistics and day_fraction (deg); was day_sza_max
    stats_sza_max: float = Field(85.0, gt=0.0, le=180.0)
    scans_per_shard: int = Field(8, ge=1, le=4096)  # shard length along time (one rank per shard)
    zstd_level: int = Field(3, ge=1, le=22)  # compression level
    # rebuild a store that this stage wrote (anything else at --output is refused)
    overwrite: bool = False

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, values):
        return renamed_keys(values, RENAMED, "")

    @field_validator("input_bands", "target_bands", mode="before")
    @classmethod
    def _bands(cls, v):
        return _band_list(v)

    @model_validator(mode="after")
    def _checks(self):
        overlap = set(self.input_bands) & set(self.target_bands)
        if overlap:
            raise ValueError(f"bands {sorted(overlap)} are both input and target")
        return self

    @property
    def bands(self) -> list[str]:
        return self.input_bands + self.target_bands

    @property
    def grid_settings(self) -> GridSettings:
        return GridSettings(mask_dqf=self.mask_dqf, min_valid_fraction=self.min_valid_fraction)

    def describe(self) -> dict:
        """A flat, JSON-able view (stored in the store's attributes and the report)."""
        out = self.model_dump(mode="json", exclude={"overwrite", "archive", "output"})
        out["every"] = None if self.every is None else int(self.every.total_seconds())
        return out


def load_config(path: Path | None, overrides: dict) -> PreprocessConfig:
    """Defaults from the YAML file, then command-line overrides (None means not given)."""
    if path is None and not DEFAULT_CONFIG.is_file():  # installed without the repo's configs/
        path, text = Path("<defaults>"), ""
    else:
        path = Path(path or DEFAULT_CONFIG)
        if not path.is_file():
            raise ConfigError(f"--config {path}: no such file")
        text = path.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    flags = {k: v for k, v in overrides.items() if v is not None}
    data.update(flags)
    try:
        return PreprocessConfig(**data)
    except ValidationError as err:

        def where(field: str) -> str:
            flag = f"--{field.replace('_', '-')}"
            return flag if field in flags else f"{path}: {field or 'config'}"

        def missing(field: str) -> str:
            return f"missing: give --{field.replace('_', '-')} or set {field} in {path}"

        raise ConfigError(one_line(err, where, missing)) from None
