"""The GOES-R ABI fixed-grid projection as one record (GOES-R PUG vol. 3, 5.1.2.8).

An L1b file carries it as the attributes of ``goes_imager_projection``; a store records it per
run and a CF output writes it back as its grid mapping. Products that lost the file's
attributes fall back to a platform's nominal one (``nominal``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from .platforms import PLATFORMS

GRS80 = {"semi_major_axis": 6378137.0, "semi_minor_axis": 6356752.31414}
GRS80_INVERSE_FLATTENING = 298.2572221  # as NOAA writes it into the L1b files
ABI_HEIGHT = 35786023.0  # perspective_point_height above the equator (m)
# What the geometry needs; a record without the others takes GOES-R's latitude and sweep.
REQUIRED = (
    "semi_major_axis",
    "semi_minor_axis",
    "perspective_point_height",
    "longitude_of_projection_origin",
)


@dataclass(frozen=True)
class FixedGridProjection:
    """What maps ABI scan angles to the Earth, named as the L1b files and CF name it."""

    semi_major_axis: float
    semi_minor_axis: float
    perspective_point_height: float
    longitude_of_projection_origin: float
    latitude_of_projection_origin: float = 0.0
    sweep_angle_axis: str = "x"
    inverse_flattening: float | None = None

    @classmethod
    def from_attrs(cls, attrs: Mapping, source: str = "attributes") -> FixedGridProjection:
        """From ``goes_imager_projection``'s attributes, a band read by ``read_band``, or a
        store's record; a missing key is a ValueError naming ``source``."""
        missing = [k for k in REQUIRED if k not in attrs]
        if missing:
            raise ValueError(f"{source} lacks fixed-grid projection attributes {missing}")
        given = {f.name: attrs[f.name] for f in fields(cls) if attrs.get(f.name) is not None}
        proj = cls(**{k: str(v) if k == "sweep_angle_axis" else float(v) for k, v in given.items()})
        if proj.sweep_angle_axis != "x":
            raise ValueError(
                f"{source}: sweep_angle_axis={proj.sweep_angle_axis!r}, "
                "but GOES-R fixed grids sweep along x"
            )
        return proj

    @classmethod
    def nominal(cls, satellite: str) -> FixedGridProjection:
        """The platform's projection as GOES-R defines it (GRS80, sweep x)."""
        if satellite not in PLATFORMS:
            raise ValueError(f"satellite {satellite!r}: not one of {sorted(PLATFORMS)}")
        return cls(
            **GRS80,
            perspective_point_height=ABI_HEIGHT,
            longitude_of_projection_origin=PLATFORMS[satellite].projection_lon,
            inverse_flattening=GRS80_INVERSE_FLATTENING,
        )

    def as_attrs(self) -> dict[str, float | str]:
        """Plain JSON-able attributes (unknown ones left out): a store's record."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def cf_grid_mapping(self) -> dict[str, float | str]:
        """The attributes of a CF ``geostationary`` grid-mapping variable."""
        return {
            "grid_mapping_name": "geostationary",
            **self.as_attrs(),
            "long_name": "GOES-R ABI fixed grid projection",
        }
