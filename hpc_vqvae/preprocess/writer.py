"""Writing the store: template, append, region writes, the final record (see
``hpc_vqvae.store.layout`` for what the arrays and attributes are).

Every time-dependent array is split along time at shard boundaries, so one rank owns
everything of a shard and no two ranks write one object.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from .. import outputs
from ..abi.bands import band_number
from ..abi.projection import FixedGridProjection
from ..store import StoreError, is_store, layout
from .config import PreprocessConfig
from .scan import ScanResult


def _time_chunks(n_before: int, n_new: int, per_shard: int) -> tuple[int, ...]:
    """Dask chunks for slots n_before..n_before+n_new that end exactly on shard boundaries."""
    chunks, pos, end = [], n_before, n_before + n_new
    while pos < end:
        stop = min((pos // per_shard + 1) * per_shard, end)
        chunks.append(stop - pos)
        pos = stop
    return tuple(chunks)


def template(cfg: PreprocessConfig, times: np.ndarray, shape: tuple[int, int], n_before: int = 0):
    """A lazy dataset of ``len(times)`` empty scans (nothing is computed or held in memory)."""
    ny, nx = shape
    n = len(times)
    tc = _time_chunks(n_before, n, cfg.scans_per_shard)
    nb = len(cfg.bands)

    def empty(tail: tuple[int, ...], dtype, fill):
        return da.full((n, *tail), fill, chunks=(tc, *tail), dtype=dtype)

    data = {
        b: (("time", "y", "x"), empty((ny, nx), np.float32, np.nan), layout.band_attrs(b))
        for b in cfg.bands
    }
    data[layout.SZA] = (
        ("time", "y", "x"),
        empty((ny, nx), np.float32, np.nan),
        {
            "units": "degree",
            "standard_name": "solar_zenith_angle",
            "grid_mapping": layout.GRID_MAPPING,
        },
    )
    data[layout.DAY_FRACTION] = (
        ("time",),
        empty((), np.float32, np.nan),
        {"long_name": f"fraction of on-disk pixels with sza < {cfg.stats_sza_max}"},
    )
    data[layout.WRITTEN] = (
        ("time",),
        empty((), np.int8, layout.SCAN_PENDING),
        {
            "long_name": "scan status",
            "flag_values": [layout.SCAN_FAILED, layout.SCAN_PENDING, layout.SCAN_WRITTEN],
            "flag_meanings": "failed pending written",
        },
    )
    data[layout.PLATFORM] = (
        ("time",),
        empty((), np.int8, 0),
        {
            "long_name": "satellite of the scan (its GOES number; 0: not written)",
            "flag_values": [16, 17, 18, 19],
            "flag_meanings": "G16 G17 G18 G19",
        },
    )
    data[layout.PROJECTION_LON] = (
        ("time",),
        empty((), np.float64, np.nan),
        {
            "units": "degrees_east",
            "long_name": "longitude_of_projection_origin of the scan's fixed grid",
        },
    )
    data[layout.BAND_STATS] = (
        ("time", "band", "stat"),
        empty((nb, len(layout.BAND_STAT_FIELDS)), np.float64, np.nan),
        {"long_name": "per-scan partial statistics of each band (visible: daytime)"},
    )
    coords = {
        "time": ("time", times.astype("datetime64[ns]"), layout.TIME_ATTRS),
        "band": (
            "band",
            np.array([band_number(b) for b in cfg.bands], dtype=np.int8),
            {"long_name": "ABI band number"},
        ),
        "stat": ("stat", np.array(layout.BAND_STAT_FIELDS), {"long_name": "partial statistic"}),
        layout.FIXED_GRID_X: (
            ("time", "x"),
            empty((nx,), np.float64, np.nan),
            layout.scan_angle_attrs("x"),
        ),
        layout.FIXED_GRID_Y: (
            ("time", "y"),
            empty((ny,), np.float64, np.nan),
            layout.scan_angle_attrs("y"),
        ),
    }
    return xr.Dataset(data, coords=coords)


def encoding(cfg: PreprocessConfig, shape: tuple[int, int]) -> dict:
    ny, nx = shape
    s = cfg.scans_per_shard
    zstd = [zarr.codecs.ZstdCodec(level=cfg.zstd_level)]
    enc = {
        v: {"chunks": (1, ny, nx), "shards": (s, ny, nx), "compressors": zstd}
        for v in [*cfg.bands, layout.SZA]
    }
    enc[layout.FIXED_GRID_X] = {"chunks": (s, nx), "compressors": zstd}
    enc[layout.FIXED_GRID_Y] = {"chunks": (s, ny), "compressors": zstd}
    enc[layout.DAY_FRACTION] = {"chunks": (s,)}
    enc[layout.WRITTEN] = {"chunks": (s,)}
    enc[layout.PLATFORM] = {"chunks": (s,)}
    enc[layout.PROJECTION_LON] = {"chunks": (s,)}
    enc[layout.BAND_STATS] = {"chunks": (s, len(cfg.bands), len(layout.BAND_STAT_FIELDS))}
    enc["time"] = {"chunks": (max(s, 1024),), **layout.TIME_ENCODING}
    return enc


def _identity(cfg: PreprocessConfig, shape: tuple[int, int]) -> dict:
    """What must match for a store to be resumed or appended to (``layout.IDENTITY``)."""
    values = {**cfg.model_dump(include=set(layout.IDENTITY)), "grid_shape": list(shape)}
    return {k: values[k] for k in layout.IDENTITY}


def read_state(path: Path, overwrite: bool) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """(times, written, attrs) of an existing store to resume; None if there is none yet, only
    an unfinished template (no scan can have been written to it), or one of ours to rebuild
    (``overwrite``). Anything that is not a store of ours is refused, with or without
    ``overwrite``, so that no one's data is deleted by a mistyped --output."""
    if not outputs.check_replaceable(path, "--output", overwrite=True, ours=is_store):
        return None  # nothing there yet, or an empty folder
    if overwrite:
        return None
    attrs = dict(zarr.open_group(path, mode="r").attrs)
    if attrs.get(layout.LAYOUT_KEY) == layout.TEMPLATE_PENDING:
        return None
    if attrs.get(layout.LAYOUT_KEY) != layout.LAYOUT_VERSION:
        raise StoreError(
            f"{path}: a store of layout {attrs[layout.LAYOUT_KEY]} (this version writes layout "
            f"{layout.LAYOUT_VERSION}): it still opens for training and prediction, but is not "
            "resumed or appended to; write the new scans to another --output"
        )
    with xr.open_zarr(path, consolidated=False) as ds:
        return ds["time"].values, ds[layout.WRITTEN].values, dict(ds.attrs)


def check_compatible(
    path: Path, attrs: dict, cfg: PreprocessConfig, shape: tuple[int, int]
) -> None:
    have = layout.identity(attrs)
    for key, value in _identity(cfg, shape).items():
        if have[key] != value:
            raise StoreError(
                f"{path}: made with {key}={have[key]!r}, not {value!r}; "
                "use --overwrite or another --output"
            )


def create(path: Path, cfg: PreprocessConfig, times: np.ndarray, shape: tuple[int, int]) -> None:
    """Write the template of a new store (metadata and coordinates only)."""
    outputs.remove(path, ours=is_store)  # read_state has refused anything not ours
    ds = template(cfg, times, shape)
    ds.attrs = {
        **_identity(cfg, shape),
        "Conventions": layout.CONVENTIONS,
        "title": "GOES ABI scans on the 2 km fixed grid",
        layout.STATISTICS: {},
        layout.LAYOUT_KEY: layout.TEMPLATE_PENDING,
    }
    ds.to_zarr(
        path, compute=False, encoding=encoding(cfg, shape), consolidated=False, zarr_format=3
    )
    zarr.open_group(path, mode="r+").attrs[layout.LAYOUT_KEY] = layout.LAYOUT_VERSION


def append(path: Path, cfg: PreprocessConfig, times: np.ndarray, n_before: int, shape) -> None:
    """Grow the store along time by ``len(times)`` empty scans."""
    ds = template(cfg, times, shape, n_before=n_before)
    ds = ds.drop_vars(["band", "stat"])
    ds.attrs = dict(zarr.open_group(path, mode="r").attrs)  # xarray rewrites the group's attrs
    ds.to_zarr(path, append_dim="time", compute=False, consolidated=False)


def open_arrays(path: Path) -> dict[str, zarr.Array]:
    """The store's arrays, opened once per rank for all its region writes (after the
    template or append: their shapes are final for this run)."""
    return dict(zarr.open_group(path, mode="r+", use_consolidated=False).arrays())


def write_slots(
    arrays: dict[str, zarr.Array],
    start: int,
    results: list[ScanResult | None],
    cfg: PreprocessConfig,
) -> None:
    """Write consecutive scans start..start+len-1 (None: failed), data first, then the flags.

    Straight into the template's Zarr arrays: the slots are this rank's own shards, and
    xarray's per-call store set-up would cost as much as compressing the scans.
    """
    region = slice(start, start + len(results))
    ok = [r for r in results if r is not None]
    if ok:
        ny, nx = ok[0].sza.shape

        def stack(get, fallback):
            return np.stack([get(r) if r is not None else fallback for r in results])

        nan2 = np.full((ny, nx), np.nan, np.float32)
        for b in cfg.bands:
            arrays[b][region] = stack(lambda r, b=b: r.bands[b], nan2)
        arrays[layout.SZA][region] = stack(lambda r: r.sza, nan2)
        arrays[layout.FIXED_GRID_X][region] = stack(lambda r: r.x, np.full(nx, np.nan))
        arrays[layout.FIXED_GRID_Y][region] = stack(lambda r: r.y, np.full(ny, np.nan))
        arrays[layout.DAY_FRACTION][region] = stack(lambda r: r.day_fraction, np.nan)
        arrays[layout.PLATFORM][region] = stack(lambda r: layout.platform_code(r.satellite), 0)
        lon = stack(lambda r: r.projection.longitude_of_projection_origin, np.nan)
        arrays[layout.PROJECTION_LON][region] = lon
        nan_stats = np.full((len(cfg.bands), len(layout.BAND_STAT_FIELDS)), np.nan)
        arrays[layout.BAND_STATS][region] = stack(lambda r: r.stats, nan_stats)
    flags = [layout.SCAN_WRITTEN if r is not None else layout.SCAN_FAILED for r in results]
    arrays[layout.WRITTEN][region] = np.array(flags, np.int8)


def satellites(path: Path) -> dict:
    """satellite -> scans written, first and last scan start: which satellites a store (or a
    west/east request across a handover) holds."""
    group = zarr.open_group(path, mode="r")
    with xr.open_zarr(path, consolidated=False) as ds:
        time = ds["time"].values
    written = group[layout.WRITTEN][:] == layout.SCAN_WRITTEN
    codes = group[layout.PLATFORM][:]
    out = {}
    for code in sorted(set(codes[written].tolist())):
        times = np.sort(time[written & (codes == code)])
        out[layout.platform_name(code)] = {
            "scans": int(times.size),
            "first": str(times[0].astype("datetime64[s]")),
            "last": str(times[-1].astype("datetime64[s]")),
        }
    return out


def read_stats(path: Path, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(written, band_stats) of slots start..stop-1, read without the big arrays."""
    group = zarr.open_group(path, mode="r")
    return group[layout.WRITTEN][start:stop], group[layout.BAND_STATS][start:stop]


def _write_grid_mapping(group: zarr.Group, projection: FixedGridProjection) -> None:
    """The CF grid-mapping variable (0-d) that the bands name: the store's first scan's."""
    group.create_array(
        layout.GRID_MAPPING,
        shape=(),
        dtype="int32",
        fill_value=0,
        dimension_names=[],
        attributes=projection.cf_grid_mapping(),
        overwrite=True,
    )


def finalize(path: Path, statistics: dict, projection: FixedGridProjection | None = None) -> dict:
    """Store the statistics, the satellites of the written scans (and the fixed-grid
    projection, as read from the files of this run's first scan) and consolidate the
    metadata, once, at the end (rank 0). Returns the satellites."""
    group = zarr.open_group(path, mode="r+")
    group.attrs[layout.STATISTICS] = statistics
    held = group.attrs[layout.SATELLITES] = satellites(path)
    if projection is not None:
        group.attrs[layout.PROJECTION] = projection.as_attrs()
        _write_grid_mapping(group, projection)
    layout.consolidate(path)
    return held
