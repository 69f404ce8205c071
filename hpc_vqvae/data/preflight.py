"""What training needs of a store, checked where it is cheap: before a job is submitted
(``launch``), before the process group starts (``train``), and by every dataset. One line
naming the store and the problem, instead of a traceback on every rank after the queue."""

from __future__ import annotations

from ..errors import UsageError
from ..store import ScanTable, Store
from ..store.layout import SZA
from .config import DataConfig
from .split import Split, split_days


def open_for_training(cfg: DataConfig) -> tuple[Store, ScanTable, Split]:
    """The store, its scan table and the day split, once the store has the bands, a grid that
    holds a patch, and written daytime scans on both sides of the split."""
    store = Store.open(cfg.store)
    store.require_arrays([*cfg.bands, SZA])
    table = store.table()
    if cfg.patch_size > min(table.grid_shape):
        raise UsageError(
            f"patch_size {cfg.patch_size} exceeds the store grid {table.grid_shape} of data "
            f"store {cfg.store}: set data.patch_size to at most {min(table.grid_shape)} (a "
            "multiple of the model's downsampling)"
        )
    try:
        split = split_days(table, cfg.split)
    except ValueError as err:
        raise UsageError(f"data store {cfg.store}: {err}") from None
    for name, scans in (("train", split.train), ("val", split.val)):
        if len(scans) == 0:
            raise UsageError(f"data store {cfg.store}: no written {name} scan has daytime")
    return store, table, split


def preflight(cfg: DataConfig) -> str:
    """``open_for_training``'s checks, and the line a job prints about its data."""
    store, table, split = open_for_training(cfg)
    satellites = ",".join(store.attrs.get("satellites", {})) or store.attrs.get("satellite", "?")
    return (
        f"data store {cfg.store} ({satellites} {store.attrs.get('sector', '?')}, grid "
        f"{table.grid_shape[0]}x{table.grid_shape[1]}): {len(split.train)} training, "
        f"{len(split.val)} validation and {len(split.test)} test scans with daytime, "
        f"{len(split.val_days)} validation days"
    )
