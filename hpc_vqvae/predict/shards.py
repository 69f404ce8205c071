"""A range predicted by any number of ranks into one Zarr store, resumably.

The output is cut into shards of ``batch_size`` consecutive scans. Rank 0 writes the whole
store's template first (every array at full length, the time axis and scan angles filled in)
beside the output, as ``.NAME.partial``; each rank then predicts the shards ``i`` with
``i % world == rank`` and writes them into their own regions (one chunk per scan, so no two
ranks ever touch one chunk), marking each shard done in a small array of its own. Rank 0
checks every shard is done, drops the marks, consolidates and renames the store into place.
An interrupted run leaves the partial store; the same command resumes it, skipping done shards.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from tqdm import tqdm

from .. import distributed as D
from ..model.translator import Translator
from ..store.layout import TIME_ENCODING, consolidate
from .blend import blend_dataset
from .cf import RangeLayout, batch_dataset, coordinate_encoding
from .sources import ScanBatch, StoreRange, iso, read_batch

DONE = "predict_shards_done"  # shard marks; removed when the store is complete


@dataclass(frozen=True)
class Request:
    """What a partial store was started for: a rerun resumes it only if this is the same."""

    checkpoint: str
    store: str
    first: str
    last: str
    scans: int
    batch_size: int
    latlon: bool
    blend: list[float] | None = None  # --blend's band (a list: as the marks' JSON holds it)

    @classmethod
    def of(
        cls,
        checkpoint: str,
        scans: StoreRange,
        batch_size: int,
        latlon: bool,
        blend: tuple[float, float] | None = None,
    ) -> Request:
        return cls(
            checkpoint,
            str(scans.store.path.resolve()),
            iso(scans.time[0]),
            iso(scans.time[-1]),
            len(scans.index),
            batch_size,
            latlon,
            None if blend is None else list(blend),
        )


def n_shards(scans: int, batch_size: int) -> int:
    return -(-scans // batch_size)


def my_shards(done: np.ndarray, rank: int, world: int) -> list[int]:
    """The shards this rank still owes: round-robin, so every rank gets scans of the whole
    range (the day-night mix, and so the cost per scan, is even)."""
    return [i for i in range(rank, len(done), world) if not done[i]]


def _zarr_encoding(ds: xr.Dataset, batch_size: int) -> dict:
    """One chunk per scan (what a reader of one time step wants) in one file per shard of the
    range (a batch, written whole by one rank: ranks write side by side, and a 5-year range is
    not millions of files), zstd like the input store, and the store's time encoding."""
    zstd = [zarr.codecs.ZstdCodec(level=3)]
    enc = {
        v: {
            "chunks": (1, *ds[v].shape[1:]),
            "shards": (batch_size, *ds[v].shape[1:]),
            "compressors": zstd,
        }
        for v in ds.variables
        if ds[v].dims[:1] == ("time",) and v != "time"
    }
    enc["time"] = {**TIME_ENCODING, "chunks": (4096,)}
    for name, fill in coordinate_encoding(ds).items():
        enc[name] = {**enc.get(name, {}), **fill}
    return enc


def write_template(
    path: Path, model: Translator, scans: StoreRange, layout: RangeLayout, request: Request
) -> None:
    """The full-length store with nothing predicted yet: the structure of the first scan's
    dataset (with a blank prediction), its time-dependent arrays stretched lazily to the range
    (only their metadata is written), the time axis and the shard marks written for real."""
    first = read_batch(scans, slice(0, 1), model.input_bands, _visible(model, layout))
    probe = _dataset(model, first, np.zeros((1, 3, *first.sza.shape[1:]), "f4"), layout)
    n, data_vars, coords = len(scans.index), {}, {}
    for name, var in probe.variables.items():
        if name == "time":
            var = xr.Variable("time", scans.time, var.attrs)
        elif var.dims[:1] == ("time",):
            shape = (n, *var.shape[1:])  # one dask chunk: a task per scan would cost
            lazy = da.full(shape, np.nan, dtype=var.dtype, chunks=shape)  # minutes at years
            var = xr.Variable(var.dims, lazy, var.attrs)
        (coords if name in probe.coords else data_vars)[name] = var
    template = xr.Dataset(data_vars, coords=coords, attrs=probe.attrs)
    template.to_zarr(
        path,
        mode="w-",
        compute=False,
        encoding=_zarr_encoding(probe, request.batch_size),
        consolidated=False,
    )
    lay_out_marks(path, np.zeros(n_shards(n, request.batch_size), bool), D.world_size(), request)


def resumable(path: Path, request: Request) -> bool:
    """A partial store started for this very request."""
    try:
        marks = zarr.open_group(path, mode="r", use_consolidated=False)[DONE]
    except Exception:  # noqa: BLE001 (absent or unreadable: not one to resume)
        return False
    return marks.attrs.get("request") == asdict(request)


def done_marks(path: Path) -> np.ndarray:
    """Which shards of the range are done, in range order."""
    marks = zarr.open_group(path, mode="r", use_consolidated=False)[DONE]
    rows = np.asarray(marks[:])
    if rows.ndim == 1:  # a partial store of an earlier version: one mark a shard
        return rows
    i = np.arange(marks.attrs["n_shards"])
    return rows[i % rows.shape[0], i // rows.shape[0]]


def lay_out_marks(path: Path, done: np.ndarray, world: int, request: Request) -> None:
    """The marks as (world, shards per rank): rank r marks its round-robin shards r, r + world,
    ... in its own row, its own chunk, so no two ranks write one object. Shards not done are
    the fill (nothing written): one chunk a shard made a file a shard, 164,000 of them for
    5 years of 1-minute scans. A resume on another number of ranks lays them out again."""
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    per = max(1, -(-len(done) // world))
    rows = np.zeros((world, per), bool)
    i = np.flatnonzero(done)
    rows[i % world, i // world] = True
    marks = group.create_array(
        DONE, shape=(world, per), chunks=(1, per), dtype="bool", fill_value=False, overwrite=True
    )
    if rows.any():
        marks[:] = rows
    marks.attrs.update(request=asdict(request), n_shards=len(done))


def write_shards(
    model: Translator, scans: StoreRange, layout: RangeLayout, path: Path, batch_size: int
) -> int:
    """Predict this rank's outstanding shards into their regions; returns how many it wrote."""
    marks = zarr.open_group(path, mode="r+", use_consolidated=False)[DONE]
    world = D.world_size()
    assert marks.shape[0] == world, "rank 0 lays the marks out for this job's ranks"
    mine = my_shards(done_marks(path), D.rank(), world)
    scans_left = sum(len(scans.index[i * batch_size : (i + 1) * batch_size]) for i in mine)
    bar = tqdm(
        total=scans_left * D.world_size(),  # rank 0's share, scaled: the whole job's progress
        unit="scan",
        desc="predict",
        file=sys.stderr,
        disable=D.rank() != 0,
    )
    for i in mine:
        part = slice(i * batch_size, (i + 1) * batch_size)
        batch = read_batch(scans, part, model.input_bands, _visible(model, layout))
        ds = _dataset(model, batch, model.reflectance(batch.bt), layout)
        timeless = [v for v in ds.variables if "time" not in ds[v].dims or v == "time"]
        region = {"time": slice(part.start, part.start + len(batch.time))}
        ds.drop_vars(timeless).to_zarr(path, region=region, consolidated=False)
        marks[D.rank(), i // world] = True
        bar.update(len(batch.time) * D.world_size())
    bar.close()
    return len(mine)


def _visible(model: Translator, layout: RangeLayout) -> tuple[str, ...]:
    """The store's visible bands a batch needs: those of the model's target, for --blend."""
    return tuple(model.data_cfg.target_bands) if layout.blend else ()


def _dataset(
    model: Translator, batch: ScanBatch, rgb: np.ndarray, layout: RangeLayout
) -> xr.Dataset:
    """A batch's dataset: the synthetic, or with --blend its blend with the observed visible
    (put in the model's target convention by the transform its training targets went through)."""
    ds = batch_dataset(batch, rgb, layout)
    if layout.blend is None:
        return ds
    observed = model.transform.target_reflectance(batch.visible, batch.sza, axis=1)
    return blend_dataset(ds, observed, layout.blend)


def finish(path: Path) -> None:
    """Rank 0, once every rank is through: all shards done, then the marks go."""
    done = done_marks(path)
    if not done.all():
        missing = np.flatnonzero(~done)
        raise RuntimeError(f"{path}: shards {missing[:10].tolist()} were not written")
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    del group[DONE]
    consolidate(path)
