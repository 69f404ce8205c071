"""Which scans an evaluation scores, and how they are read: a split of the store the model
trained on (its own split settings, recomputed), or the written scans of a time range; read
whole, with the target in the model's own convention and the masks that score it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..data.config import DataConfig
from ..data.preflight import open_for_training
from ..data.split import Split
from ..errors import UsageError
from ..model.translator import Translator
from ..store import Store
from ..store.layout import SZA

SZA_BINS = ((0, 30), (30, 50), (50, 65), (65, 80), (80, 90))  # 80-90: twilight, never trained on


@dataclass(frozen=True)
class Selection:
    """What is scored. Decided by rank 0 (it reads every scan's time and the split) and
    broadcast: it carries the store's path, and each rank opens the store itself."""

    store_path: Path
    positions: np.ndarray  # store slots, time order
    time: np.ndarray  # their scan starts
    split: Split
    label: str  # what was scored, for the report
    store_time: np.ndarray  # every slot's scan start

    @cached_property
    def store(self) -> Store:
        return Store.open(self.store_path)


def by_split(model: Translator, store_path, name: str) -> Selection:
    """The model's own split of the store (the settings it trained with)."""
    cfg = DataConfig(**{**model.data_cfg.model_dump(), "store": store_path})
    _, table, split = open_for_training(cfg)
    positions = split.positions(name)
    if not len(positions):
        raise UsageError(
            f"data store {store_path}: the model's split holds no {name} scan with daytime "
            f"(test_fraction={cfg.test_fraction}); score a time range with --start/--end"
        )
    days = sorted({str(t)[:10] for t in table.time[positions]})
    label = f"{name} split: {len(days)} days"
    return Selection(Path(store_path), positions, table.time[positions], split, label, table.time)


def by_range(model: Translator, store_path, positions: np.ndarray, time: np.ndarray) -> Selection:
    cfg = DataConfig(**{**model.data_cfg.model_dump(), "store": store_path})
    _, table, split = open_for_training(cfg)
    label = f"{str(time[0])[:16]} .. {str(time[-1])[:16]}"
    return Selection(Path(store_path), positions, time, split, label, table.time)


@dataclass(frozen=True)
class Batch:
    time: np.ndarray  # (N,)
    bt: np.ndarray  # (N, C, H, W) K
    target: np.ndarray  # (N, 3, H, W) reflectance in the model's convention, filled as trained
    sza: np.ndarray  # (N, H, W) deg
    valid: np.ndarray  # (N, H, W): every input and target band finite


def read(model: Translator, store: Store, positions: Sequence[int], time) -> Batch:
    """Whole scans with the target as the training crops have it (the model's transform):
    the scores of the training's validation and of an evaluation are of one thing."""
    cfg, tf = model.data_cfg, model.transform
    arrays = store.scans(positions, [*cfg.bands, SZA])
    bt = np.stack([arrays[b] for b in cfg.input_bands], 1)
    refl = {b: arrays[b] for b in cfg.target_bands}
    sza = arrays[SZA]
    target = tf.reflectance(tf.target(refl, sza, axis=1))
    return Batch(np.asarray(time), bt, target.astype(np.float32), sza, tf.valid(bt, refl, 1))


def batches(
    model: Translator, sel: Selection, size: int, rank: int = 0, world: int = 1
) -> Iterator[Batch]:
    """This rank's scans (every ``world``-th), ``size`` at a time."""
    mine = np.arange(rank, len(sel.positions), world)
    for start in range(0, len(mine), size):
        part = mine[start : start + size]
        yield read(model, sel.store, sel.positions[part], sel.time[part])


def training_sample(sel: Selection, n: int = 48) -> np.ndarray:
    """Training scans for the least-squares fit, spread evenly over the training days."""
    train = sel.split.train
    take = np.floor((np.arange(min(n, len(train))) + 0.5) * len(train) / min(n, len(train)))
    return train[take.astype(int)]
