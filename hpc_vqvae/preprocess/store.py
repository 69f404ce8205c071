"""The Zarr store: layout, template, append, region writes, consolidation.

Layout (Zarr v3, zstd): one float32 variable per band named as the band (C13, C02, ...) and
``sza``, dims (time, y, x) on the 2 km grid, inner chunks of one whole scan, shards of
``scans_per_shard`` scans along time; per-scan ``fixed_grid_x`` (time, x) and
``fixed_grid_y`` (time, y) scan angles (meso sectors move), ``day_fraction`` (time),
``written`` (time: 1 written, 0 pending, -1 failed) and per-scan band statistics
``band_stats`` (time, band, stat). Every time-dependent array is split along time at shard
boundaries, so one rank owns everything of a shard and no two ranks write one object.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from ..abi.bands import BANDS, band_number
from . import stats
from .config import PreprocessConfig
from .scan import ScanResult

LAYOUT_VERSION = 1
LAYOUT_KEY = "hpc_vqvae_layout"  # LAYOUT_VERSION once the template is complete
_PENDING = "template-in-progress"


class StoreError(ValueError):
    """The output store cannot be used for this request (one line, naming the store)."""


def _band_attrs(name: str) -> dict:
    band = BANDS[band_number(name)]
    if band.emissive:
        return {
            "units": "K",
            "long_name": f"{name} brightness temperature",
            "standard_name": "toa_brightness_temperature",
            "wavelength_um": band.wavelength_um,
        }
    return {
        "units": "1",
        "long_name": f"{name} reflectance factor",
        "standard_name": "toa_bidirectional_reflectance",
        "wavelength_um": band.wavelength_um,
    }


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
        b: (("time", "y", "x"), empty((ny, nx), np.float32, np.nan), _band_attrs(b))
        for b in cfg.bands
    }
    data["sza"] = (
        ("time", "y", "x"),
        empty((ny, nx), np.float32, np.nan),
        {"units": "degree", "standard_name": "solar_zenith_angle"},
    )
    data["fixed_grid_x"] = (
        ("time", "x"),
        empty((nx,), np.float64, np.nan),
        {"units": "rad", "long_name": "fixed-grid x scan angle of the scan"},
    )
    data["fixed_grid_y"] = (
        ("time", "y"),
        empty((ny,), np.float64, np.nan),
        {"units": "rad", "long_name": "fixed-grid y scan angle of the scan"},
    )
    data["day_fraction"] = (
        ("time",),
        empty((), np.float32, np.nan),
        {"long_name": f"fraction of on-disk pixels with sza < {cfg.day_sza_max}"},
    )
    data["written"] = (
        ("time",),
        empty((), np.int8, 0),
        {
            "long_name": "scan status",
            "flag_values": [-1, 0, 1],
            "flag_meanings": "failed pending written",
        },
    )
    data["band_stats"] = (
        ("time", "band", "stat"),
        empty((nb, len(stats.FIELDS)), np.float64, np.nan),
        {"long_name": "per-scan partial statistics of each band (visible: daytime)"},
    )
    coords = {
        "time": ("time", times.astype("datetime64[ns]")),
        "band": ("band", np.array([band_number(b) for b in cfg.bands], dtype=np.int8)),
        "stat": ("stat", np.arange(len(stats.FIELDS), dtype=np.int8)),
    }
    return xr.Dataset(data, coords=coords)


def encoding(cfg: PreprocessConfig, shape: tuple[int, int]) -> dict:
    ny, nx = shape
    s = cfg.scans_per_shard
    zstd = [zarr.codecs.ZstdCodec(level=cfg.zstd_level)]
    enc = {
        v: {"chunks": (1, ny, nx), "shards": (s, ny, nx), "compressors": zstd}
        for v in [*cfg.bands, "sza"]
    }
    enc["fixed_grid_x"] = {"chunks": (s, nx), "compressors": zstd}
    enc["fixed_grid_y"] = {"chunks": (s, ny), "compressors": zstd}
    enc["day_fraction"] = {"chunks": (s,)}
    enc["written"] = {"chunks": (s,)}
    enc["band_stats"] = {"chunks": (s, len(cfg.bands), len(stats.FIELDS))}
    enc["time"] = {
        "chunks": (max(s, 1024),),
        "units": "microseconds since 2000-01-01 12:00:00",
        "dtype": "int64",
    }
    return enc


def _identity(cfg: PreprocessConfig, shape: tuple[int, int]) -> dict:
    """What must match for a store to be resumed or appended to."""
    return {
        "satellite": cfg.satellite,
        "sector": cfg.sector,
        "input_bands": cfg.input_bands,
        "target_bands": cfg.target_bands,
        "grid_shape": list(shape),
        "scans_per_shard": cfg.scans_per_shard,
        "mask_dqf": cfg.mask_dqf,
        "min_valid_fraction": cfg.min_valid_fraction,
        "day_sza_max": cfg.day_sza_max,
    }


def read_state(path: Path) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """(times, written, attrs) of an existing store; None if there is none yet, or only an
    unfinished template (no scan can have been written to it). Anything else at ``path`` is
    refused, so that no one's data is deleted by a mistyped --output."""
    if not path.exists():
        return None
    try:
        attrs = dict(zarr.open_group(path, mode="r").attrs)
    except Exception:  # noqa: BLE001 (any reason it does not open as a Zarr group)
        attrs = {}
    if attrs.get(LAYOUT_KEY) == _PENDING:
        return None
    if attrs.get(LAYOUT_KEY) != LAYOUT_VERSION:
        raise StoreError(
            f"{path}: exists and is not a store of this stage; use --overwrite "
            "to replace it or choose another --output"
        )
    with xr.open_zarr(path, consolidated=False) as ds:
        return ds["time"].values, ds["written"].values, dict(ds.attrs)


def check_compatible(
    path: Path, attrs: dict, cfg: PreprocessConfig, shape: tuple[int, int]
) -> None:
    want = _identity(cfg, shape)
    for key, value in want.items():
        if attrs.get(key) != value:
            raise StoreError(
                f"{path}: made with {key}={attrs.get(key)!r}, not {value!r}; "
                "use --overwrite or another --output"
            )


def create(path: Path, cfg: PreprocessConfig, times: np.ndarray, shape: tuple[int, int]) -> None:
    """Write the template of a new store (metadata and coordinates only)."""
    if path.exists():
        shutil.rmtree(path)
    ds = template(cfg, times, shape)
    ds.attrs = {
        **_identity(cfg, shape),
        "title": "GOES ABI scans on the 2 km fixed grid",
        "statistics": {},
        LAYOUT_KEY: _PENDING,
    }
    ds.to_zarr(
        path, compute=False, encoding=encoding(cfg, shape), consolidated=False, zarr_format=3
    )
    zarr.open_group(path, mode="r+").attrs[LAYOUT_KEY] = LAYOUT_VERSION


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


def write_run(
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
        arrays["sza"][region] = stack(lambda r: r.sza, nan2)
        arrays["fixed_grid_x"][region] = stack(lambda r: r.x, np.full(nx, np.nan))
        arrays["fixed_grid_y"][region] = stack(lambda r: r.y, np.full(ny, np.nan))
        arrays["day_fraction"][region] = stack(lambda r: r.day_fraction, np.nan)
        nan_stats = np.full((len(cfg.bands), len(stats.FIELDS)), np.nan)
        arrays["band_stats"][region] = stack(lambda r: r.stats, nan_stats)
    arrays["written"][region] = np.array([1 if r is not None else -1 for r in results], np.int8)


def _plain(value):
    """numpy scalars -> JSON numbers and strings."""
    return value.item() if isinstance(value, np.generic) else value


def read_stats(path: Path, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(written, band_stats) of slots start..stop-1, read without the big arrays."""
    group = zarr.open_group(path, mode="r")
    return group["written"][start:stop], group["band_stats"][start:stop]


def finalize(path: Path, statistics: dict, projection: dict | None = None) -> None:
    """Store the statistics (and the fixed-grid projection, as read from the files of this
    run's first scan) and consolidate the metadata, once, at the end (rank 0)."""
    group = zarr.open_group(path, mode="r+")
    group.attrs["statistics"] = statistics
    if projection:
        group.attrs["projection"] = {k: _plain(v) for k, v in projection.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not (yet) in the v3 spec
        zarr.consolidate_metadata(path)
