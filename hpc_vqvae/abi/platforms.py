"""The GOES-R platforms and their ABI fixed-grid projection (GOES-R PUG, vol. 3, 5.1.2.8):
what a product needs to be mapped when it no longer carries the L1b file's attributes."""

from __future__ import annotations

PLATFORMS = {
    # satellite: (projection longitude, nominal sub-point longitude, orbital slot, instrument)
    "G16": (-75.0, -75.2, "GOES-East", "FM1"),
    "G17": (-137.0, -137.2, "GOES-West", "FM2"),
    "G18": (-137.0, -137.0, "GOES-West", "FM3"),
    "G19": (-75.0, -75.2, "GOES-East", "FM4"),
}


def projection(satellite: str) -> dict[str, float]:
    """The GOES-R fixed-grid projection of a platform (GRS80, sweep x)."""
    return {
        "semi_major_axis": 6378137.0,
        "semi_minor_axis": 6356752.31414,
        "perspective_point_height": 35786023.0,
        "longitude_of_projection_origin": PLATFORMS[satellite][0],
    }
