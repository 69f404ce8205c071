"""Writing prediction's outputs whole or not at all: a hidden sibling renamed into place; a
range appended batch by batch, so a long range never has to fit in memory."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import netCDF4
import xarray as xr
import zarr
from tqdm import tqdm

from .. import outputs
from ..model.translator import Translator
from ..store.layout import TIME_ENCODING, consolidate
from .cf import NETCDF_TIME, RangeLayout, batch_dataset, coordinate_encoding
from .sources import StoreRange, read_batch


def is_prediction(path: Path) -> bool:
    """An output of predict, by the marks every product carries (``ai_generated`` and this
    package named in ``source``): what --overwrite may replace."""
    try:
        if path.is_dir():
            attrs = dict(zarr.open_group(path, mode="r").attrs)
        else:
            with netCDF4.Dataset(path) as nc:
                attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
    except Exception:  # noqa: BLE001 (any reason it does not open: not ours)
        return False
    return attrs.get("ai_generated") == "true" and "hpc-vqvae" in str(attrs.get("source", ""))


def write_atomic(output: Path, write: Callable[[Path], None], overwrite: bool) -> None:
    """``write`` to a hidden sibling, then rename it to ``output``: an error or an interrupt
    leaves no partial output behind, and only an earlier prediction is ever replaced."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.partial-{os.getpid()}")
    with outputs.Lock(output, "--output"):
        outputs.check_replaceable(output, "--output", overwrite, is_prediction)
        try:
            write(tmp)
            if output.is_dir():
                outputs.remove(output, is_prediction)
            os.replace(tmp, output)
        except BaseException:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            raise


def _zarr_encoding(ds: xr.Dataset) -> dict:
    """One chunk per scan (what a reader of one time step wants), zstd like the input store,
    and the store's time encoding whatever the batch."""
    zstd = [zarr.codecs.ZstdCodec(level=3)]
    enc = {
        v: {"chunks": (1, *ds[v].shape[1:]), "compressors": zstd}
        for v in ds.variables
        if ds[v].dims[:1] == ("time",) and v != "time"
    }
    enc["time"] = {**TIME_ENCODING, "chunks": (4096,)}
    for name, fill in coordinate_encoding(ds).items():
        enc[name] = {**enc.get(name, {}), **fill}
    return enc


def write_range(
    model: Translator, scans: StoreRange, out: Path, batch_size: int, latlon: bool
) -> None:
    """Predict the range batch by batch, appending each batch to the Zarr store ``out``."""
    layout = RangeLayout.of(model, scans, latlon)
    with tqdm(total=len(scans.index), unit="scan", desc="predict", file=sys.stderr) as bar:
        for first in range(0, len(scans.index), batch_size):
            batch = read_batch(scans, slice(first, first + batch_size), model.input_bands)
            ds = batch_dataset(batch, model.reflectance(batch.bt), layout)
            if first == 0:
                ds.to_zarr(out, mode="w-", encoding=_zarr_encoding(ds), consolidated=False)
            else:
                still = [v for v in ds.variables if "time" not in ds[v].dims]
                ds.drop_vars(still).to_zarr(out, append_dim="time", consolidated=False)
            bar.update(len(batch.time))
    consolidate(out)


def range_writer(
    model: Translator, scans: StoreRange, batch_size: int, latlon: bool, netcdf: bool
) -> Callable[[Path], None]:
    """Writes a range: Zarr, batch by batch; or netCDF, streamed from that Zarr chunk by
    chunk (so neither has to fit in memory) with CF's encoding of coordinates and time."""

    def write(path: Path) -> None:
        if not netcdf:
            write_range(model, scans, path, batch_size, latlon)
            return
        staged = path.with_name(path.name + ".zarr")
        try:
            write_range(model, scans, staged, batch_size, latlon)
            with xr.open_zarr(staged) as ds:
                ds.to_netcdf(path, encoding=_netcdf_encoding(ds, "time"))
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    return write


def _netcdf_encoding(ds: xr.Dataset, time: str) -> dict:
    """Compressed data, no fill value on the scan angles, time as CF float seconds."""
    enc = coordinate_encoding(ds)
    deflate = {"zlib": True, "complevel": 4}
    enc.update({v: {**deflate, "chunksizes": _one_scan(ds[v])} for v in ds.data_vars if ds[v].ndim})
    enc[time] = {**NETCDF_TIME, "_FillValue": None}
    return enc


def _one_scan(da: xr.DataArray) -> tuple[int, ...]:
    return tuple(1 if d == "time" else n for d, n in zip(da.dims, da.shape, strict=True))


def scan_writer(ds: xr.Dataset, as_zarr: bool) -> Callable[[Path], None]:
    """Writes one scan's dataset: compressed netCDF, or Zarr for a ``*.zarr`` output."""

    def write(path: Path) -> None:
        enc = coordinate_encoding(ds)
        if as_zarr:
            ds.to_zarr(path, mode="w-", encoding=enc, consolidated=False)
            consolidate(path)
        else:
            ds.to_netcdf(path, encoding=_netcdf_encoding(ds, "t"))

    return write
