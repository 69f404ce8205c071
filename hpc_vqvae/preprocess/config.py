"""The preprocessing stage's configuration: one flat, validated schema (YAML file + flags)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from ..abi.bands import INPUT_BANDS, TARGET_BANDS, check_disjoint
from ..abi.grid import GridSettings
from ..abi.selection import ArchiveSelection, Bands, Years
from ..errors import ConfigError, one_line, renamed_keys

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "preprocess.yaml"
RENAMED = {"day_sza_max": "stats_sza_max"}  # old key -> new key, accepted for one release


class PreprocessConfig(ArchiveSelection):
    """Which archive scans (whole years: a store's split is by days of its years) turn into
    which store, and how."""

    archive: Path  # root of the L1b tree
    # a listing of the archive's files instead of walking it: fetch's manifest, or one path per
    # line (e.g. lfs find output; relative paths under archive)
    catalog: Path | None = None
    output: Path  # the Zarr store
    years: Years  # e.g. 2019-2023, 2021, 2019,2021 (required here: fetch may name days instead)
    input_bands: Bands = list(INPUT_BANDS)  # IR bands stored
    target_bands: Bands = list(TARGET_BANDS)  # visible bands stored
    mask_dqf: bool = True  # DQF >= 2 becomes NaN
    min_valid_fraction: float = Field(0.5, gt=0.0, le=1.0)  # of fine pixels in a 2 km mean
    # daytime for statistics and day_fraction (deg); was day_sza_max
    stats_sza_max: float = Field(85.0, gt=0.0, le=180.0)
    # scans per data shard file along time; None: sized from the archive (layout.shard_sizes)
    scans_per_shard: int | None = Field(None, ge=1, le=4096)
    # scans per block of the per-scan arrays, the unit dealt to a rank (a multiple of
    # scans_per_shard); None: sized from the archive
    scans_per_block: int | None = Field(None, ge=1)
    zstd_level: int = Field(3, ge=1, le=22)  # compression level
    # rebuild a store that this stage wrote (anything else at --output is refused)
    overwrite: bool = False

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, values):
        return renamed_keys(values, RENAMED, "")

    @model_validator(mode="after")
    def _checks(self):
        check_disjoint(self.input_bands, self.target_bands)
        shard, block = self.scans_per_shard, self.scans_per_block
        if block is not None and (shard is None or block % shard):
            raise ValueError(
                f"scans_per_block {block} must be a multiple of scans_per_shard ({shard}): "
                "set both, or neither"
            )
        return self

    @property
    def bands(self) -> list[str]:
        return self.input_bands + self.target_bands

    @property
    def grid_settings(self) -> GridSettings:
        return GridSettings(mask_dqf=self.mask_dqf, min_valid_fraction=self.min_valid_fraction)

    def describe(self) -> dict:
        """A flat, JSON-able view (stored in the store's attributes and the report)."""
        out = self.model_dump(mode="json", exclude={"overwrite", "archive", "output", "catalog"})
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
