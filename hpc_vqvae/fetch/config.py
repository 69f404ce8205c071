"""What ``python -m hpc_vqvae.fetch`` copies: one validated, flat schema (flags only)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from ..abi.bands import INPUT_BANDS, TARGET_BANDS, band_number
from ..abi.selection import ArchiveSelection, Bands
from ..errors import ConfigError, one_line


class FetchConfig(ArchiveSelection):
    """The archive selection (years, or a span of days), where it goes and how it is copied."""

    dest: Path  # root of the local archive, in the buckets' own layout
    start: date | None = None  # first UTC day (with end: instead of years)
    end: date | None = None  # last UTC day, inclusive
    # bands copied; default: the model's target and input bands
    bands: Bands = [*TARGET_BANDS, *INPUT_BANDS]
    workers: int = Field(16, ge=1, le=256)  # concurrent transfers (and listings)
    retries: int = Field(5, ge=0, le=20)  # per file, with exponential backoff
    verify: bool = False  # check every local file's MD5 against its ETag, not just size

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
