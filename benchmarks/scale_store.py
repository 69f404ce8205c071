"""The stores and listings of benchmarks/scale.py, and the set-up steps it times inside one
process (``python benchmarks/scale.py step NAME``): building a store of N scans from a small
real one, counting its files, a synthetic listing for the catalog, preprocess's plan."""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from hpc_vqvae.abi.names import SATELLITES
from hpc_vqvae.preprocess.catalog import Catalog, ScanTable
from hpc_vqvae.preprocess.config import PreprocessConfig
from hpc_vqvae.preprocess.writer import StoreWriter
from hpc_vqvae.store import Store, layout

START = datetime(2019, 1, 1, 0, 0, 27, 500000)  # ABI's meso scans start at :27.5 s


# --- build --------------------------------------------------------------------------------------


def _config(small: Store, out: Path, years: list[int], sizes: tuple[int, int]) -> PreprocessConfig:
    """The small store's identity, for a store of other years and sizes."""
    ident = layout.identity(small.attrs)
    keep = ("sector", "input_bands", "target_bands", "mask_dqf", "min_valid_fraction")
    return PreprocessConfig(
        archive=out.parent,
        output=out,
        years=years,
        satellite=small.attrs["satellite"],
        stats_sza_max=ident["stats_sza_max"],
        scans_per_shard=sizes[0],
        scans_per_block=sizes[1],
        **{k: ident[k] for k in keep},
    )


def build(small_path: Path, n: int, every: timedelta, out: Path) -> None:
    small = Store.open(small_path)
    bands = small.attrs["input_bands"] + small.attrs["target_bands"]
    shard = int(small.attrs["scans_per_shard"])
    sizes = layout.shard_sizes(n, len(bands) + 1)
    if sizes[0] != shard:
        sys.exit(f"a store of {n} scans has shards of {sizes[0]} scans, {small_path} of {shard}")
    table = small.table()
    whole = len(table.time) // shard
    if whole == 0 or not (table.written[: whole * shard] == layout.SCAN_WRITTEN).all():
        sys.exit(f"{small_path}: needs a whole shard ({shard} scans), every scan written")
    times = np.datetime64(START, "ns") + np.arange(n) * np.timedelta64(every)
    years = sorted({int(str(t)[:4]) for t in times[[0, -1]]})
    cfg = _config(small, out, list(range(years[0], years[-1] + 1)), sizes)
    writer = StoreWriter(cfg, table.grid_shape)
    writer.read_state()  # refuses a folder that is not a store of ours
    writer.create(times)
    # scan i of the big store is scan ((i // shard) % whole) * shard + i % shard of the small
    block = sizes[1]
    source = {name: small.group[name][:] for name in layout.PER_SCAN}
    for start in range(0, n, block):
        i = np.arange(start, min(n, start + block))
        src = (i // shard) % whole * shard + i % shard
        for name, values in source.items():
            writer.arrays[name][start : start + len(i)] = values[src]
    for name in [*bands, layout.SZA]:
        for k in range(-(-n // shard)):
            target = out / name / "c" / str(k) / "0" / "0"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(small_path / name / "c" / str(k % whole) / "0" / "0", target)
    writer.finalize(small.statistics, small.projection())
    print(f"{out}: {n} scans, shards of {sizes[0]}, blocks of {sizes[1]}, {files(out)} files")


def files(path: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(path))


def metadata_mb(path: Path) -> float:
    """Everything but the data shards: what opening and planning read."""
    data = {"c"}
    size = 0
    for root, _dirs, names in os.walk(path):
        rel = Path(root).relative_to(path).parts
        if len(rel) >= 2 and rel[1] in data and rel[0].startswith(("C", layout.SZA)):
            continue
        size += sum((Path(root) / f).stat().st_size for f in names)
    return size / 1e6


# --- steps in this process (python scale.py step NAME) -------------------------------------------


def _catalog_of(store: Store, extra_days: int = 0) -> Catalog:
    """The catalog a resumed preprocess would find: the store's scans (and ``extra_days``
    of new ones after them), as catalog columns; their files are never opened by the plan."""
    t = store.table().time
    step = t[1] - t[0]
    new = t[-1] + step * np.arange(1, 1 + int(np.timedelta64(extra_days, "D") // step))
    starts = np.concatenate([t, new]).astype("datetime64[us]")
    satellite = np.full(len(starts), SATELLITES.index(store.attrs["satellite"]), np.int8)
    files = np.zeros((len(starts), 0), np.int64)
    return Catalog(ScanTable(store.attrs["sector"], (), starts, satellite, files))


def _plan(path: Path, extra_days: int) -> dict:
    from hpc_vqvae.preprocess import pipeline

    store = Store.open(path)
    catalog = _catalog_of(store, extra_days)
    years = np.unique(catalog.scans.start.astype("datetime64[Y]").astype(int) + 1970).tolist()
    shard = store.attrs["scans_per_shard"]
    cfg = _config(store, path, years, (shard, None))
    cfg = cfg.model_copy(update={"scans_per_block": None})
    pipeline.build_catalog = lambda _cfg: catalog
    t0 = time.perf_counter()
    plan = pipeline._plan(cfg, StoreWriter(cfg, store.table().grid_shape))
    return {"s": time.perf_counter() - t0, "todo": len(plan.slots)}


def write_listing(path: Path, scans: int, every: timedelta, manifest: bool = False) -> None:
    """A listing (as lfs find prints it, or as fetch's manifest records it) of ``scans`` G17 M1
    scans of the six default bands, every ``every`` from 2019-01-01: synthetic names, no files."""
    from hpc_vqvae.abi.names import format_stamp

    copied = '{"key": "noaa-goes17/%s", "path": "%s", "size": 3012345, '
    copied += '"etag": "0123456789abcdef0123456789abcdef", "mtime_ns": 1765000000000000000, '
    copied += '"at": "2026-12-06T00:00:00+00:00"}\n'
    with path.open("w") as out:
        for i in range(scans):
            t = START + i * every
            s = format_stamp(t)
            folder = f"ABI-L1b-RadM/{t:%Y/%j/%H}/"
            for band in (1, 2, 3, 11, 13, 14):
                name = f"{folder}OR_ABI-L1b-RadM1-M6C{band:02d}_G17_s{s}_e{s}_c{s}.nc"
                out.write(copied % (name, name) if manifest else name + "\n")


def _catalog(listing: Path) -> dict:
    """Rank 0's part of planning a new store from a listing: the catalog, then the two ranks'
    shares, rank 1's as it is sent (pickled) to it."""
    from hpc_vqvae.preprocess.catalog import build_catalog
    from hpc_vqvae.preprocess.pipeline import Plan

    cfg = PreprocessConfig(
        archive=listing.parent, output=listing.parent / "x.zarr", catalog=listing,
        years="2019-2023", satellite="G17",
    )  # fmt: skip
    t0 = time.perf_counter()
    catalog = build_catalog(cfg)
    catalog_s, every = time.perf_counter() - t0, np.arange(len(catalog.scans))
    plan = Plan(every, every, len(every), (1024, 8192), catalog)
    theirs = plan.shares(2)[1]
    sent = sum(len(pickle.dumps(plan.work(p, compact=True))) for p in plan.pieces(theirs))
    return {"scans": len(every), "catalog_s": catalog_s, "sent_mb": sent / 1e6}


STEPS: dict[str, Callable[[Path], dict]] = {
    "catalog": _catalog,
    "open": lambda p: {"scans": len(Store.open(p).table().time)},
    "resume": lambda p: _plan(p, 0),
    "append": lambda p: _plan(p, 30),
}


def step(name: str, path: Path) -> None:
    t0 = time.perf_counter()
    out = STEPS[name](path)
    out.setdefault("s", time.perf_counter() - t0)
    out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(json.dumps(out))
