"""Writing the store: template, append, region writes, the final record, all through one
``StoreWriter`` per process (see ``hpc_vqvae.store.layout`` for what the arrays and
attributes are).

The data arrays (bands, sza) are sharded along time in ``scans_per_shard`` scans, the per-scan
arrays in blocks of ``scans_per_block`` (a whole number of shards; ``layout.shard_sizes``). A
rank is dealt whole blocks, so it owns everything of a block and no two ranks write one object.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from .. import outputs
from ..abi.bands import band_number
from ..abi.projection import FixedGridProjection
from ..store import StoreError, decode_time, is_store, layout
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


Sizes = tuple[int, int]  # (scans_per_shard, scans_per_block)


def template(
    cfg: PreprocessConfig, times: np.ndarray, shape: tuple[int, int], sizes: Sizes, n_before=0
):
    """A lazy dataset of ``len(times)`` empty scans (nothing is computed or held in memory)."""
    ny, nx = shape
    n = len(times)
    tc = _time_chunks(n_before, n, sizes[1])  # whole blocks: whole shards too
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
    data[layout.CENTRE_LON] = (
        ("time",),
        empty((), np.float64, np.nan),
        {"units": "degrees_east", "long_name": "longitude of the scan's centre pixel"},
    )
    data[layout.BAND_STATS] = (
        ("time", "band", "stat"),
        empty((nb, len(layout.BAND_STAT_FIELDS)), np.float64, np.nan),
        {"long_name": "per-scan partial statistics of each band (visible: daytime)"},
    )
    data[layout.FOCAL_PLANE] = (
        ("time", "band", "focal"),
        empty((nb, len(layout.FOCAL_PLANE_FIELDS)), np.float64, np.nan),
        {
            "long_name": "each band file's focal-plane temperature record (GOES-17's cooling "
            "anomaly): maximum temperature (K), increasing threshold (K), pixels over it",
        },
    )
    coords = {
        "time": ("time", times.astype("datetime64[ns]"), layout.TIME_ATTRS),
        "band": (
            "band",
            np.array([band_number(b) for b in cfg.bands], dtype=np.int8),
            {"long_name": "ABI band number"},
        ),
        "stat": ("stat", np.array(layout.BAND_STAT_FIELDS), {"long_name": "partial statistic"}),
        "focal": (
            "focal",
            np.array(layout.FOCAL_PLANE_FIELDS),
            {"long_name": "focal-plane record field"},
        ),
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


def encoding(cfg: PreprocessConfig, shape: tuple[int, int], sizes: Sizes) -> dict:
    """Data arrays: one file per shard, one scan a chunk inside it (read alone). Per-scan
    arrays: one file per block; the scan angles' rows are large, so theirs is a shard of
    inner chunks of one data shard each (read in part)."""
    ny, nx = shape
    s, block = sizes
    zstd = [zarr.codecs.ZstdCodec(level=cfg.zstd_level)]
    enc = {
        v: {"chunks": (1, ny, nx), "shards": (s, ny, nx), "compressors": zstd}
        for v in [*cfg.bands, layout.SZA]
    }
    enc[layout.FIXED_GRID_X] = {"chunks": (s, nx), "shards": (block, nx), "compressors": zstd}
    enc[layout.FIXED_GRID_Y] = {"chunks": (s, ny), "shards": (block, ny), "compressors": zstd}
    for name in (layout.DAY_FRACTION, layout.WRITTEN, layout.PLATFORM, layout.PROJECTION_LON):
        enc[name] = {"chunks": (block,)}
    enc[layout.CENTRE_LON] = {"chunks": (block,)}
    enc[layout.BAND_STATS] = {"chunks": (block, len(cfg.bands), len(layout.BAND_STAT_FIELDS))}
    enc[layout.FOCAL_PLANE] = {"chunks": (block, len(cfg.bands), len(layout.FOCAL_PLANE_FIELDS))}
    enc["time"] = {"chunks": (block,), **layout.TIME_ENCODING}
    return enc


SIZED = ("scans_per_shard", "scans_per_block")  # None in the config: the store's


def _identity(cfg: PreprocessConfig, shape: tuple[int, int], sizes: Sizes | None) -> dict:
    """What must match for a store to be resumed or appended to (``layout.IDENTITY``); the
    sizes a config leaves to the archive (None) are those of the store."""
    values = {**cfg.model_dump(include=set(layout.IDENTITY)), "grid_shape": list(shape)}
    if sizes is not None:
        values.update(zip(SIZED, sizes, strict=True))
    return {k: values[k] for k in layout.IDENTITY}


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


class StoreWriter:
    """The store this job writes, its Zarr group opened once per process and held: the
    writing counterpart of the read-only ``store.Store``.

    The MPI protocol decides when each process may open it. Rank 0 opens it when it reads the
    state of an existing store (to resume or append), or right after it writes a new template;
    xarray writes the template through its own handle and replaces the group's metadata, so a
    group held from before (an unfinished template that is rebuilt) is dropped and opened
    again. The other ranks open it on first use, after the plan is broadcast: only then do the
    template's arrays exist with the shapes they keep for this run. Each rank then writes the
    regions of its own shards and reads their statistics back through the same arrays, and
    rank 0 finalizes through its group: nothing but rank 0 ever changes the group's metadata.
    """

    def __init__(self, cfg: PreprocessConfig, shape: tuple[int, int]):
        self.cfg, self.shape, self.path = cfg, shape, cfg.output
        self.sizes: Sizes | None = None  # (scans_per_shard, scans_per_block), once known
        self._group: zarr.Group | None = None
        self._arrays: dict[str, zarr.Array] | None = None

    @property
    def group(self) -> zarr.Group:
        if self._group is None:
            self._group = zarr.open_group(self.path, mode="r+", use_consolidated=False)
        return self._group

    @property
    def arrays(self) -> dict[str, zarr.Array]:
        """The store's arrays, opened once for all of this rank's region writes and reads:
        taken after the template or append, when their shapes are final for this run."""
        if self._arrays is None:
            self._arrays = dict(self.group.arrays())
        return self._arrays

    def read_state(self) -> tuple[np.ndarray, np.ndarray, dict] | None:
        """(times, written, attrs) of an existing store to resume; None if there is none yet,
        only an unfinished template (no scan can have been written to it), or one of ours to
        rebuild (--overwrite). Anything that is not a store of ours is refused, with or
        without --overwrite, so that no one's data is deleted by a mistyped --output."""
        ours = outputs.check_replaceable(self.path, "--output", overwrite=True, ours=is_store)
        if not ours or self.cfg.overwrite:
            return None  # nothing there yet, an empty folder, or one to rebuild
        attrs = dict(self.group.attrs)
        if attrs.get(layout.LAYOUT_KEY) == layout.TEMPLATE_PENDING:
            return None
        if attrs.get(layout.LAYOUT_KEY) != layout.LAYOUT_VERSION:
            raise StoreError(
                f"{self.path}: a store of layout {attrs[layout.LAYOUT_KEY]} (this version writes "
                f"layout {layout.LAYOUT_VERSION}): it still opens for training and prediction, "
                "but is not resumed or appended to; write the new scans to another --output"
            )
        group = self.group
        self.sizes = int(attrs["scans_per_shard"]), int(attrs[layout.SCANS_PER_BLOCK])
        return decode_time(group["time"]), group[layout.WRITTEN][:], attrs

    def check_compatible(self, attrs: dict) -> None:
        have = layout.identity(attrs)
        for key, value in _identity(self.cfg, self.shape, None).items():
            if have[key] != value and not (key in SIZED and value is None):
                raise StoreError(
                    f"{self.path}: made with {key}={have[key]!r}, not {value!r}; "
                    "use --overwrite or another --output"
                )

    def create(self, times: np.ndarray) -> None:
        """Write the template of a new store (metadata and coordinates only)."""
        self._group = self._arrays = None  # whatever was there is replaced
        outputs.remove(self.path, ours=is_store)  # read_state has refused anything not ours
        n_data = len(self.cfg.bands) + 1  # and sza
        self.sizes = layout.shard_sizes(
            len(times), n_data, self.cfg.scans_per_shard, self.cfg.scans_per_block
        )
        ds = template(self.cfg, times, self.shape, self.sizes)
        ds.attrs = {
            **_identity(self.cfg, self.shape, self.sizes),
            "Conventions": layout.CONVENTIONS,
            "title": "GOES ABI scans on the 2 km fixed grid",
            layout.STATISTICS: {},
            layout.LAYOUT_KEY: layout.TEMPLATE_PENDING,
        }
        enc = encoding(self.cfg, self.shape, self.sizes)
        ds.to_zarr(self.path, compute=False, encoding=enc, consolidated=False, zarr_format=3)
        self.group.attrs[layout.LAYOUT_KEY] = layout.LAYOUT_VERSION

    def append(self, times: np.ndarray, n_before: int) -> None:
        """Grow the store along time by ``len(times)`` empty scans."""
        ds = template(self.cfg, times, self.shape, self.sizes, n_before=n_before)
        ds = ds.drop_vars(["band", "stat"])
        ds.attrs = dict(self.group.attrs)  # xarray rewrites the group's attrs: the same ones
        ds.to_zarr(self.path, append_dim="time", compute=False, consolidated=False)
        self._arrays = None  # their shapes have grown

    def write_slots(self, start: int, results: list[ScanResult | None]) -> None:
        """Write consecutive scans start..start+len-1 (None: failed), data first, then the
        flags.

        Straight into the template's Zarr arrays: the slots are this rank's own shards, and
        xarray's per-call store set-up would cost as much as compressing the scans.
        """
        arrays, bands = self.arrays, self.cfg.bands
        region = slice(start, start + len(results))
        ok = [r for r in results if r is not None]
        if ok:
            ny, nx = ok[0].sza.shape

            def stack(get, fallback):
                return np.stack([get(r) if r is not None else fallback for r in results])

            nan2 = np.full((ny, nx), np.nan, np.float32)
            for b in bands:
                arrays[b][region] = stack(lambda r, b=b: r.bands[b], nan2)
            arrays[layout.SZA][region] = stack(lambda r: r.sza, nan2)
            arrays[layout.FIXED_GRID_X][region] = stack(lambda r: r.x, np.full(nx, np.nan))
            arrays[layout.FIXED_GRID_Y][region] = stack(lambda r: r.y, np.full(ny, np.nan))
            arrays[layout.DAY_FRACTION][region] = stack(lambda r: r.day_fraction, np.nan)
            platform = stack(lambda r: layout.platform_code(r.satellite), 0)
            arrays[layout.PLATFORM][region] = platform
            lon = stack(lambda r: r.projection.longitude_of_projection_origin, np.nan)
            arrays[layout.PROJECTION_LON][region] = lon
            arrays[layout.CENTRE_LON][region] = stack(lambda r: r.centre_lon, np.nan)
            nan_stats = np.full((len(bands), len(layout.BAND_STAT_FIELDS)), np.nan)
            arrays[layout.BAND_STATS][region] = stack(lambda r: r.stats, nan_stats)
            nan_focal = np.full((len(bands), len(layout.FOCAL_PLANE_FIELDS)), np.nan)
            arrays[layout.FOCAL_PLANE][region] = stack(lambda r: r.focal_plane, nan_focal)
        flags = [layout.SCAN_WRITTEN if r is not None else layout.SCAN_FAILED for r in results]
        arrays[layout.WRITTEN][region] = np.array(flags, np.int8)

    def read_stats(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(written, band_stats) of slots start..stop-1, read without the big arrays."""
        arrays = self.arrays
        return arrays[layout.WRITTEN][start:stop], arrays[layout.BAND_STATS][start:stop]

    def satellites(self) -> dict:
        """satellite -> scans written, first and last scan start: which satellites a store
        (or a west/east request across a handover) holds."""
        arrays = self.arrays
        time = decode_time(arrays["time"])
        written = arrays[layout.WRITTEN][:] == layout.SCAN_WRITTEN
        codes = arrays[layout.PLATFORM][:]
        out = {}
        for code in sorted(set(codes[written].tolist())):
            times = np.sort(time[written & (codes == code)])
            out[layout.platform_name(code)] = {
                "scans": int(times.size),
                "first": str(times[0].astype("datetime64[s]")),
                "last": str(times[-1].astype("datetime64[s]")),
            }
        return out

    def finalize(self, statistics: dict, projection: FixedGridProjection | None = None) -> dict:
        """Store the statistics, the satellites of the written scans (and the fixed-grid
        projection, as read from the files of this run's first scan) and consolidate the
        metadata, once, at the end (rank 0, after every rank's regions are written).
        Returns the satellites."""
        group = self.group
        group.attrs[layout.STATISTICS] = statistics
        held = group.attrs[layout.SATELLITES] = self.satellites()
        if projection is not None:
            group.attrs[layout.PROJECTION] = projection.as_attrs()
            _write_grid_mapping(group, projection)
        layout.consolidate(self.path)
        return held
