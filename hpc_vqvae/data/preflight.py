"""What training needs of a store, checked where it is cheap: before a job is submitted
(``launch``), and by rank 0 as the job starts (``train``: every rank gets its result or its
refusal). One line naming the store and the problem, instead of a traceback on every rank
after the queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..distributed import decided_by_rank_0
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
    warm = store.warm_focal_plane(cfg.input_bands) if cfg.exclude_warm_focal_plane else None
    try:
        split = split_days(table, cfg.split, warm)
    except ValueError as err:
        raise UsageError(f"data store {cfg.store}: {err}") from None
    for name, scans in (("train", split.train), ("val", split.val)):
        if len(scans) == 0:
            raise UsageError(f"data store {cfg.store}: no written {name} scan has daytime")
    return store, table, split


@dataclass(frozen=True)
class TrainingData:
    """What training needs of its store besides pixels: the slots' times, the day split and
    the input statistics of the training days. Each is a read over every scan (millions at
    years of meso scans), so a job reads them once, on rank 0, and broadcasts them."""

    store: Path
    attrs: dict
    grid_shape: tuple[int, int]
    time: np.ndarray  # of every slot
    split: Split
    statistics: dict  # of the input bands over the training scans (``Transform``'s)

    def describe(self) -> str:
        """The line a job prints about its data."""
        satellites = ",".join(self.attrs.get("satellites", {})) or self.attrs.get("satellite", "?")
        return (
            f"data store {self.store} ({satellites} {self.attrs.get('sector', '?')}, grid "
            f"{self.grid_shape[0]}x{self.grid_shape[1]}): {len(self.split.train)} training, "
            f"{len(self.split.val)} validation and {len(self.split.test)} test scans with "
            f"daytime, {len(self.split.val_days)} validation days"
        )


def training_data(cfg: DataConfig) -> TrainingData:
    """``open_for_training``'s checks and reads, in one process."""
    store, table, split = open_for_training(cfg)
    statistics = store.statistics_over(split.train, cfg.input_bands)
    return TrainingData(
        cfg.store, dict(store.attrs), table.grid_shape, table.time, split, statistics
    )


def shared_training_data(cfg: DataConfig) -> TrainingData:
    """Rank 0's ``training_data`` on every rank of the job, or its refusal on every rank."""
    return decided_by_rank_0(lambda: training_data(cfg))


def preflight(cfg: DataConfig) -> str:
    """``open_for_training``'s checks, and the line a job prints about its data."""
    return training_data(cfg).describe()
