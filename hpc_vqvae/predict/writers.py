"""Writing prediction's outputs whole or not at all: a hidden sibling renamed into place. (A
range's Zarr store is written shard by shard, by any number of ranks: ``shards``.)"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import netCDF4
import xarray as xr
import zarr

from .. import outputs
from ..store.layout import consolidate
from .cf import NETCDF_TIME, coordinate_encoding


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
    with outputs.Lock(output, "--output"):
        outputs.check_replaceable(output, "--output", overwrite, is_prediction)
        replace_with(output, write)


def replace_with(output: Path, write: Callable[[Path], None]) -> None:
    """``write`` a hidden sibling and rename it over ``output`` (an earlier prediction, checked
    by the caller, who holds the lock)."""
    tmp = output.with_name(f".{output.name}.partial-{os.getpid()}")
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


def zarr_to_netcdf(staged: Path) -> Callable[[Path], None]:
    """Writes the Zarr range ``staged`` as CF netCDF, streamed chunk by chunk (it need not fit
    in memory), with CF's encoding of coordinates and time."""

    def write(path: Path) -> None:
        with xr.open_zarr(staged) as ds:
            ds.to_netcdf(path, encoding=_netcdf_encoding(ds, "time"))

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
