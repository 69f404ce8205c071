"""What ``python -m hpc_vqvae.fetch`` copies: one validated, flat schema (flags only)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..abi.bands import INPUT_BANDS, TARGET_BANDS, band_number
from ..abi.platforms import SATELLITE_CHOICES
from ..abi.selection import Every, Hours, Years
from ..errors import ConfigError, one_line

Satellite = Literal[SATELLITE_CHOICES]  # type: ignore[valid-type]


class FetchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dest: Path  # root of the local archive, in the buckets' own layout
    satellite: Satellite = "west"  # G16..G19, or east/west: the operational one of each day
    sector: Literal["F", "C", "M1", "M2"] = "M1"  # F (full disk), C (CONUS), M1, M2 (mesoscale)
    years: Years | None = None  # e.g. 2019-2023, 2021, 2019,2021 (or start and end)
    start: date | None = None  # first UTC day (with end: instead of years)
    end: date | None = None  # last UTC day, inclusive
    hours: Hours = None  # UTC hours kept (inclusive ranges); None keeps all
    every: Every = None  # keep scans whose minute of day is a multiple
    # bands copied; default: the model's target and input bands
    bands: list[str] = [*TARGET_BANDS, *INPUT_BANDS]
    workers: int = Field(16, ge=1, le=256)  # concurrent transfers (and listings)
    retries: int = Field(5, ge=0, le=20)  # per file, with exponential backoff
    verify: bool = False  # check every local file's MD5 against its ETag, not just size

    @field_validator("bands", mode="before")
    @classmethod
    def _bands(cls, v):
        items = v.split(",") if isinstance(v, str) else list(v)
        bands = sorted({f"C{band_number(b):02d}" for b in items if str(b).strip()})
        if not bands:
            raise ValueError("no bands given")
        return bands

    @model_validator(mode="after")
    def _period(self):
        if (self.years is None) == (self.start is None and self.end is None):
            raise ValueError("give --years, or --start and --end (not both)")
        if self.years is None and (self.start is None or self.end is None):
            raise ValueError("--start and --end go together")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"--start {self.start} is after --end {self.end}")
        return self

    def days(self) -> list[date]:
        """Every UTC day of the period."""
        if self.years is not None:
            first, last = date(min(self.years), 1, 1), date(max(self.years), 12, 31)
            span = [first + timedelta(d) for d in range((last - first).days + 1)]
            return [d for d in span if d.year in self.years]
        assert self.start is not None and self.end is not None
        return [self.start + timedelta(d) for d in range((self.end - self.start).days + 1)]

    @property
    def band_numbers(self) -> set[int]:
        return {band_number(b) for b in self.bands}


def load_config(flags: dict) -> FetchConfig:
    """The flags given (None: not given) over the schema's defaults; one line on error."""
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        return FetchConfig(**given)
    except ValidationError as err:

        def where(field: str) -> str:
            return f"--{field.replace('_', '-')}" if field else "fetch"

        raise ConfigError(one_line(err, where, lambda f: f"missing: give --{f}")) from None
