"""Read-only access to a finished store: what the data stage, prediction and evaluation open.

Nothing here imports the preprocessing stage (its writer pulls in MPI), so every DataLoader
worker can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from ..abi.bands import BANDS, band_name, band_number
from ..abi.geometry import fixed_grid_lon_points
from ..abi.grid import GridSettings
from ..abi.projection import FixedGridProjection
from ..errors import UsageError
from . import layout, stats


class StoreError(UsageError):
    """A store that cannot be used for this request (one line, naming the store)."""


class StoreNotFound(StoreError, FileNotFoundError):
    """No store at the path given."""


def is_store(path: Path) -> bool:
    """Whether ``path`` is a store this package wrote (finished, unfinished, or of an older
    layout): its mark, the layout attribute, is what lets --overwrite replace it."""
    try:
        attrs = zarr.open_group(path, mode="r").attrs
    except Exception:  # noqa: BLE001 (any reason it does not open as a Zarr group)
        return False
    return attrs.get(layout.LAYOUT_KEY) in (*layout.READABLE_VERSIONS, layout.TEMPLATE_PENDING)


def decode_time(array: zarr.Array) -> np.ndarray:
    """The scan starts as datetime64[ns], decoded by xarray's CF rules from the array's own
    attributes (as ``xr.open_zarr`` would, without opening every array of the store)."""
    raw = xr.Dataset({"time": ("time", array[:], dict(array.attrs))})
    return xr.decode_cf(raw)["time"].values


@dataclass(frozen=True)
class ScanTable:
    """One row per time slot of the store (written or not)."""

    time: np.ndarray  # datetime64[ns], scan start (UTC)
    written: np.ndarray  # int8: layout.SCAN_WRITTEN, SCAN_PENDING or SCAN_FAILED
    day_fraction: np.ndarray  # float32, share of pixels with sza < the store's stats_sza_max
    grid_shape: tuple[int, int]  # (ny, nx) of one scan
    centre_lon: np.ndarray  # float64, longitude of the scan's centre pixel (deg east)


@dataclass(frozen=True)
class Store:
    """A finished store, opened read-only (cheap to open: metadata only)."""

    path: Path
    group: zarr.Group

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """A missing path or a folder that is not a finished store fails naming it."""
        path = Path(path)
        if not path.exists():
            raise StoreNotFound(
                f"data store {path} does not exist; write it with python -m hpc_vqvae.preprocess"
            )
        try:
            group = zarr.open_group(path, mode="r")
        except Exception as err:  # noqa: BLE001 (any reason it does not open as a Zarr group)
            raise StoreError(f"data store {path}: not a Zarr group ({err})") from None
        if group.attrs.get(layout.LAYOUT_KEY) not in layout.READABLE_VERSIONS:
            raise StoreError(
                f"data store {path}: not a finished store of hpc_vqvae.preprocess "
                f"(attribute {layout.LAYOUT_KEY}={group.attrs.get(layout.LAYOUT_KEY)!r})"
            )
        return cls(path, group)

    @property
    def attrs(self) -> dict:
        return dict(self.group.attrs)

    @property
    def statistics(self) -> dict:
        return dict(self.group.attrs.get(layout.STATISTICS, {}))

    @property
    def grid_settings(self) -> GridSettings:
        """How its scans were brought onto the 2 km grid."""
        return GridSettings.from_attrs(self.attrs)

    def projection(self) -> FixedGridProjection:
        """The fixed-grid projection read from the files, or for stores that predate the
        record the nominal one of the store's satellite (GOES-R fixes it per slot)."""
        record = self.attrs.get(layout.PROJECTION, {})
        try:
            return FixedGridProjection.from_attrs(record, f"data store {self.path}")
        except ValueError:
            try:
                return FixedGridProjection.nominal(self.attrs.get("satellite", "?"))
            except ValueError as err:
                raise StoreError(f"data store {self.path}: {err}") from None

    def projection_longitudes(self, positions: Sequence[int]) -> np.ndarray:
        """Each scan's projection longitude, one array (layout 1: the store's one for all)."""
        positions = np.asarray(positions, int)
        if layout.PROJECTION_LON not in self.group:
            return np.full(len(positions), self.projection().longitude_of_projection_origin)
        return np.asarray(self.group[layout.PROJECTION_LON].oindex[positions])

    def scan_projections(self, positions: Sequence[int]) -> list[FixedGridProjection]:
        """Each scan's own projection: the store's record with the scan's projection
        longitude."""
        record = self.projection()
        lon = self.projection_longitudes(positions)
        return [replace(record, longitude_of_projection_origin=float(x)) for x in lon]

    def scan_satellites(self, positions: Sequence[int]) -> list[str]:
        """Each scan's satellite (layout 1: the store's one)."""
        if layout.PLATFORM not in self.group:
            return [self.attrs["satellite"]] * len(positions)
        codes = self.group[layout.PLATFORM].oindex[np.asarray(positions, int)]
        names = {int(c): layout.platform_name(c) for c in np.unique(codes)}
        return [names[c] for c in codes.tolist()]

    def statistics_over(self, positions: Sequence[int], bands: Sequence[str]) -> dict:
        """Band statistics (count, mean, std, min, max; visible bands: daytime) over the
        scans at ``positions``, from their per-scan partials: the training days' own, for a
        normaliser that has seen nothing of the scored days. Read and reduced a block at a
        time, as preprocessing reduced the store's (the same bits over the same scans)."""
        names = [band_name(int(b)) for b in self.group["band"][:]]
        columns = [names.index(b) for b in bands]
        array = self.group[layout.BAND_STATS]
        block = array.chunks[0]  # a block (layout 4) or a shard (1-3) of scans
        totals = stats.block_totals(
            np.asarray(positions, np.int64), block, lambda b: array[b * block : (b + 1) * block]
        )
        total = stats.over_blocks(totals)
        out = {}
        for band, i in zip(bands, columns, strict=True):
            visible = not BANDS[band_number(band)].emissive
            part = stats.EMPTY if total is None else total[i]
            out[band] = stats.summary(part, daytime_only=visible)
        return out

    def require_arrays(self, names: Sequence[str]) -> None:
        """Every band asked for must be a (time, y, x) array of the store."""
        have = set(self.group.array_keys())
        for name in names:
            if name not in have:
                bands = sorted(k for k in have if k.startswith("C"))
                raise StoreError(f"band {name} is not in data store {self.path} (it has {bands})")

    def table(self) -> ScanTable:
        """The per-scan table, from the store's 1-D arrays alone (layout 4; older stores
        work out the centre longitudes from their scan angles)."""
        ny, nx = self.group[layout.SZA].shape[1:]
        group = self.group
        origin = self._origin_lon()
        if layout.CENTRE_LON in group:
            lon = group[layout.CENTRE_LON][:]
        else:
            x = group[layout.FIXED_GRID_X][:, nx // 2]
            y = group[layout.FIXED_GRID_Y][:, ny // 2]
            lon = fixed_grid_lon_points(x, y, self.projection(), origin)
        return ScanTable(
            time=decode_time(group["time"]),
            written=np.asarray(group[layout.WRITTEN][:]),
            day_fraction=np.asarray(group[layout.DAY_FRACTION][:]),
            grid_shape=(int(ny), int(nx)),
            centre_lon=np.where(np.isfinite(lon), lon, origin),
        )

    def warm_focal_plane(self, bands: Sequence[str], slots: np.ndarray | None = None) -> np.ndarray:
        """Per slot (of ``slots``, or all): a file of ``bands`` reported focal-plane pixels
        over their threshold, or a maximum above it (GOES-17's cooling anomaly degraded its IR
        bands on such scans). All False for a store made before layout 5 recorded it. Read a
        chunk of slots at a time: at millions of scans the whole record is hundreds of MB."""
        n = self.group[layout.WRITTEN].shape[0]
        slots = np.arange(n) if slots is None else np.asarray(slots, np.int64)
        if layout.FOCAL_PLANE not in self.group:
            return np.zeros(len(slots), bool)
        record = self.group[layout.FOCAL_PLANE]
        numbers = [int(b) for b in self.group["band"][:]]
        columns = [numbers.index(band_number(b)) for b in bands if band_number(b) in numbers]
        out = np.zeros(len(slots), bool)
        step = record.chunks[0]
        for start in range(0, len(slots), step):
            part = record.get_orthogonal_selection((slots[start : start + step], columns))
            tmax, threshold, count = (part[..., i] for i in range(3))
            with np.errstate(invalid="ignore"):  # NaN: not recorded, compares False
                out[start : start + step] = ((count > 0) | (tmax > threshold)).any(axis=1)
        return out

    def _origin_lon(self) -> np.ndarray:
        """Each scan's projection longitude: the day of a scan not written or centred off the
        disk is counted there."""
        record = self.projection().longitude_of_projection_origin
        if layout.PROJECTION_LON not in self.group:
            return np.full(self.group[layout.WRITTEN].shape, record)
        own = self.group[layout.PROJECTION_LON][:]
        return np.where(np.isfinite(own), own, record)

    def scans(self, positions: Sequence[int], names: Sequence[str]) -> dict[str, np.ndarray]:
        """Whole scans at ``positions``, stacked along a first axis, by array name: one
        chunk read per array and scan, as the store is laid out."""
        return {n: np.stack([self.group[n][int(i)] for i in positions]) for n in names}


def open_array(path: Path, name: str) -> zarr.Array:
    """One array of a store, for a process that reads it (a DataLoader worker opens its own)."""
    return zarr.open_group(path, mode="r")[name]
