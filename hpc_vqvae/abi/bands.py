"""The sixteen ABI bands: nominal wavelength, native resolution, and kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    number: int
    wavelength_um: float  # nominal central wavelength
    resolution_km: float  # at the sub-satellite point
    name: str

    @property
    def emissive(self) -> bool:
        """Bands 7-16 are calibrated to brightness temperature, 1-6 to reflectance factor."""
        return self.number >= 7

    @property
    def label(self) -> str:
        return band_name(self.number)


BANDS: dict[int, Band] = {
    b.number: b
    for b in (
        Band(1, 0.47, 1.0, "blue"),
        Band(2, 0.64, 0.5, "red"),
        Band(3, 0.86, 1.0, "veggie"),
        Band(4, 1.37, 2.0, "cirrus"),
        Band(5, 1.6, 1.0, "snow/ice"),
        Band(6, 2.2, 2.0, "cloud particle size"),
        Band(7, 3.9, 2.0, "shortwave window"),
        Band(8, 6.2, 2.0, "upper-level water vapour"),
        Band(9, 6.9, 2.0, "mid-level water vapour"),
        Band(10, 7.3, 2.0, "lower-level water vapour"),
        Band(11, 8.4, 2.0, "cloud-top phase"),
        Band(12, 9.6, 2.0, "ozone"),
        Band(13, 10.3, 2.0, "clean longwave window"),
        Band(14, 11.2, 2.0, "longwave window"),
        Band(15, 12.3, 2.0, "dirty longwave window"),
        Band(16, 13.3, 2.0, "CO2 longwave"),
    )
}

# The method's bands: longwave IR in, the visible bands of the RGB target (R = C02, B = C01,
# a synthetic G from C01/C02/C03) out. What preprocessing stores and fetch copies by default.
INPUT_BANDS = ("C11", "C13", "C14")
TARGET_BANDS = ("C01", "C02", "C03")

# Native grid sizes of one sector at 2 km; finer bands have 2x or 4x as many pixels per side.
SECTOR_SHAPE_2KM: dict[str, tuple[int, int]] = {
    "F": (5424, 5424),
    "C": (1500, 2500),
    "M1": (500, 500),
    "M2": (500, 500),
}

# Fixed-grid sampling (radians per pixel) at 2 km; GOES-R PUG vol. 3, table 5.1.2.8.
ANGLE_STEP_2KM = 56e-6


def band_number(band: int | str) -> int:
    """Accept 13, '13', 'C13' or 'c13'; raise ValueError naming the input otherwise."""
    text = str(band).strip().upper().removeprefix("C")
    if not text.isdigit() or int(text) not in BANDS:
        raise ValueError(f"unknown ABI band {band!r}: expected C01..C16")
    return int(text)


def band_name(band: int | str) -> str:
    """The one spelling of a band everywhere (stores, configs, file names): 13 -> 'C13'."""
    return f"C{band_number(band):02d}"


def band_list(value: str | Iterable[int | str]) -> list[str]:
    """``'C11,13,c14'`` or a list -> band names in the order given.

    A band named twice is refused, naming it, rather than quietly dropped: on a cluster a
    repeated band is a typo for another one, and the run it starts costs hours.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    bands = [band_name(b) for b in items if str(b).strip()]
    if not bands:
        raise ValueError("no bands given")
    twice = sorted({b for b in bands if bands.count(b) > 1})
    if twice:
        raise ValueError(f"duplicate bands {', '.join(twice)}: give each band once")
    return bands


def check_disjoint(input_bands: Iterable[str], target_bands: Iterable[str]) -> None:
    """The network must not see the bands it is asked to produce (a leak, not a skill)."""
    overlap = set(input_bands) & set(target_bands)
    if overlap:
        raise ValueError(f"bands {sorted(overlap)} are both input and target")


def pixels_per_2km(band: int) -> int:
    """How many native pixels of this band span one 2 km pixel along each axis (1, 2 or 4)."""
    return round(2.0 / BANDS[band].resolution_km)
