"""The GOES-R platforms: where each one's fixed grid is centred, where it nominally sits, its
orbital slot and its ABI unit."""

from __future__ import annotations

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
