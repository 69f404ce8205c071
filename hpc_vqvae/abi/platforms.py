"""The GOES-R platforms: where each one's fixed grid is centred, where it nominally sits, its
orbital slot and its ABI unit; and which one served each slot on a given day."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple


class Platform(NamedTuple):
    projection_lon: float  # longitude_of_projection_origin of its fixed grid
    subpoint_lon: float  # nominal sub-satellite longitude
    slot: str
    instrument: str


PLATFORMS = {
    "G16": Platform(-75.0, -75.2, "GOES-East", "FM1"),
    "G17": Platform(-137.0, -137.2, "GOES-West", "FM2"),
    "G18": Platform(-137.0, -137.0, "GOES-West", "FM3"),
    "G19": Platform(-75.0, -75.2, "GOES-East", "FM4"),
}

# The operational satellite of each slot from the UTC day it took over (NOAA's handovers).
# Before a slot's first entry its satellite was in post-launch tests, with ABI data in the
# buckets all the same: the first satellite is used for those days too.
SLOTS: dict[str, tuple[tuple[str, date], ...]] = {
    "east": (("G16", date(2017, 12, 18)), ("G19", date(2025, 4, 7))),
    "west": (("G17", date(2019, 2, 12)), ("G18", date(2023, 1, 4))),
}
SATELLITE_CHOICES = (*PLATFORMS, *SLOTS)  # what --satellite accepts


def operational(slot: str, day: date | datetime) -> str:
    """The satellite that served ``slot`` (east or west) on ``day``."""
    day = day.date() if isinstance(day, datetime) else day
    current = SLOTS[slot][0][0]
    for satellite, since in SLOTS[slot]:
        if day >= since:
            current = satellite
    return current


def satellite_on(choice: str, day: date | datetime) -> str:
    """``choice`` as given (G16..G19), or the operational satellite of a slot on ``day``."""
    return operational(choice, day) if choice in SLOTS else choice


def handovers(slot: str) -> str:
    """The slot's satellites in order, for help text: 'G17, then G18 from 2023-01-04'."""
    (first, _), *later = SLOTS[slot]
    return ", then ".join([first, *(f"{sat} from {since:%Y-%m-%d}" for sat, since in later)])
