"""Which scans of an archive a user asks for: satellite, sector, years, UTC hours, cadence
and bands. The parsing of what users type, the same as types for config schemas (a flag's
text or a YAML list), the ``ArchiveSelection`` that fetch and preprocess share, and its flags.
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from .bands import band_list
from .names import SECTORS
from .platforms import SATELLITE_CHOICES, SLOTS, handovers

_EVERY_RE = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hour|d|day)s?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def _ranges(text: str, what: str, lo: int, hi: int, example: str) -> list[int]:
    values: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if m is None:
            raise ValueError(f"bad {what} {text!r}: expected e.g. {example}")
        first, last = int(m[1]), int(m[2] or m[1])
        if first > last or first < lo or last > hi:
            raise ValueError(f"bad {what} {text!r}: {part!r} outside {lo}..{hi} or reversed")
        values.update(range(first, last + 1))
    return sorted(values)


def parse_years(text: str | int) -> list[int]:
    """'2019-2023', '2021' or '2019,2021' -> sorted years."""
    return _ranges(str(text), "--years", 1900, 2200, "2019-2023, 2021 or 2019,2021")


def parse_hours(text: str | int) -> list[int]:
    """UTC hours of the day, inclusive: '18-21' -> [18, 19, 20, 21]."""
    return _ranges(str(text), "--hours", 0, 23, "18-21, 6 or 0-3,12")


def parse_every(text: str) -> timedelta:
    """'5min', '1h', '30s', '1d' -> timedelta (must be positive)."""
    m = _EVERY_RE.match(str(text))
    if m is None or int(m[1]) == 0:
        raise ValueError(f"bad --every {text!r}: expected a positive duration like 5min, 1h, 30s")
    return timedelta(seconds=int(m[1]) * _UNITS[m[2].lower()])


def _joined(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else v


def _every(v):
    every = v if v is None or isinstance(v, timedelta) else parse_every(str(v))
    if every is not None and every.total_seconds() % 60:
        raise ValueError(f"{v!r} must be a whole number of minutes")
    return every


Years = Annotated[list[int], BeforeValidator(lambda v: parse_years(_joined(v)))]
Hours = Annotated[
    list[int] | None, BeforeValidator(lambda v: None if v is None else parse_hours(_joined(v)))
]
# Keep scans whose minute of day is a multiple: whole minutes only.
Every = Annotated[timedelta | None, BeforeValidator(_every)]
Bands = Annotated[list[str], BeforeValidator(band_list)]  # 'C11,13' -> ['C11', 'C13'], once each
Sector = Literal[SECTORS]  # type: ignore[valid-type]
Satellite = Literal[SATELLITE_CHOICES]  # type: ignore[valid-type]


class ArchiveSelection(BaseModel):
    """The scans fetch copies and preprocess reads: one schema, so a selection that fetches
    is the selection that preprocesses."""

    model_config = ConfigDict(extra="forbid")

    satellite: Satellite = "west"  # G16..G19, or east/west: the slot's operational one each day
    sector: Sector = "M1"  # F (full disk), C (CONUS), M1, M2 (mesoscale)
    years: Years | None = None  # e.g. 2019-2023, 2021, 2019,2021
    hours: Hours = None  # UTC hours kept (inclusive ranges); None keeps all
    every: Every = None  # keep scans whose minute of day is a multiple


def satellite_help() -> str:
    """--satellite's help, from the platforms' own handover table."""
    slots = "; ".join(f"{slot}: {handovers(slot)}" for slot in SLOTS)
    return (
        f"{', '.join(SATELLITE_CHOICES)}: a slot is its operational satellite of each day "
        f"({slots}) (default {ArchiveSelection.model_fields['satellite'].default})"
    )


def selection_flags(every_example: str = "10min") -> argparse.ArgumentParser:
    """The selection flags of fetch and preprocess, as an argparse parent. They default to
    None (not given), so a config file or the schema's default applies."""
    p = argparse.ArgumentParser(add_help=False)
    sector = ArchiveSelection.model_fields["sector"].default
    p.add_argument("--satellite", help=satellite_help())
    p.add_argument("--sector", help=f"{', '.join(SECTORS)} (default {sector})")
    p.add_argument("--years", help="e.g. 2019-2023, 2021 or 2019,2021")
    p.add_argument("--hours", help="UTC hours to keep, e.g. 18-21 (inclusive; default all)")
    p.add_argument(
        "--every",
        help=f"keep scans whose minute of day is a multiple, e.g. {every_example} (default all)",
    )
    return p
