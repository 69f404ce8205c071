"""Which scans an evaluation scores, and how they are read: the days the run recorded as
validation or test (as ``run.json`` and the export hold them; never the split recomputed on the
store, which moves when a store grows), or the written scans of a time range, refused where
they fall on training or buffer days unless asked for; read whole, with the target in the
model's own convention and in plain reflectance, and the masks that score them."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..data.split import BUFFER, TEST, TRAIN, VAL, days_of, recorded_clock, recorded_roles
from ..errors import UsageError
from ..model.translator import Translator
from ..store import ScanTable, Store
from ..store.layout import SCAN_WRITTEN, SZA

SZA_BINS = ((0, 30), (30, 50), (50, 65), (65, 80), (80, 90))  # 80-90: twilight, never trained on


@dataclass(frozen=True)
class Selection:
    """What is scored. Decided by rank 0 (it reads every scan's time and the split) and
    broadcast: it carries the store's path, and each rank opens the store itself."""

    store_path: Path
    positions: np.ndarray  # store slots, time order
    time: np.ndarray  # their scan starts
    days: np.ndarray  # their local solar days (datetime64[D]): the bootstrap's unit
    train: np.ndarray  # store slots of the run's recorded training days: the baseline's fit
    label: str  # what was scored, for the report
    in_sample: bool  # some scored day is a training day or buffers one (--in-sample)
    store_time: np.ndarray  # every slot's scan start

    @cached_property
    def store(self) -> Store:
        return Store.open(self.store_path)


@dataclass(frozen=True)
class _Days:
    """Each slot of a store with its solar day and the role the run's record gives that day."""

    table: ScanTable
    days: np.ndarray  # per slot
    roles: np.ndarray  # per slot
    usable: np.ndarray  # written, with some daytime, focal plane not warm (if so configured)
    warm: np.ndarray  # per slot: an input band's focal plane over its threshold

    @classmethod
    def of(cls, model: Translator, store: Store) -> _Days:
        record = model.meta.get("split")
        if not record:
            raise UsageError(
                f"checkpoint {model.checkpoint} records no day split: it cannot say which days "
                "are held out (re-export it from its run dir)"
            )
        table = store.table()
        days = days_of(table.time, table.centre_lon, recorded_clock(record))
        unique, inverse = np.unique(days, return_inverse=True)
        roles = recorded_roles(record, unique, model.data_cfg.buffer_days)[inverse]
        usable = (table.written == SCAN_WRITTEN) & (table.day_fraction > 0)
        warm = np.zeros(len(usable), bool)
        if model.data_cfg.exclude_warm_focal_plane:  # as in training: degraded IR is not scored
            warm = store.warm_focal_plane(model.data_cfg.input_bands)
        return cls(table, days, roles, usable & ~warm, warm)

    def slots(self, role: int) -> np.ndarray:
        return np.flatnonzero(self.usable & (self.roles == role)).astype(np.int64)


def by_split(model: Translator, store_path, name: str) -> Selection:
    """The scans of the days the run recorded as ``name`` (val or test), in this store: not
    the split recomputed on it, which moves when the store grows."""
    store = Store.open(store_path)
    d = _Days.of(model, store)
    positions = d.slots(VAL if name == "val" else TEST)
    positions = positions[np.argsort(d.table.time[positions], kind="stable")]
    recorded = len(model.meta["split"].get(f"{name}_days", []))
    if not len(positions):
        raise UsageError(
            f"data store {store_path} holds no {name} scan with daytime of the {recorded} "
            f"{name} day(s) recorded with the run; score a time range with --start/--end"
        )
    days = np.unique(d.days[positions])
    label = f"{name} split: {len(days)} of the run's {recorded} recorded {name} days"
    return _selection(store_path, d, positions, label, in_sample=False)


def by_range(
    model: Translator, store_path, positions: np.ndarray, time: np.ndarray, in_sample: bool
) -> Selection:
    """The written scans of a time range; days the model trained on, or that buffer them,
    are refused unless ``in_sample`` (then labelled so)."""
    d = _Days.of(model, Store.open(store_path))
    warm = d.warm[positions]
    if warm.any():
        if warm.all():
            raise UsageError(
                f"--start/--end: all {len(positions)} scans have a warm focal plane (GOES-17's "
                "cooling anomaly; data.exclude_warm_focal_plane)"
            )
        print(f"leaving out {int(warm.sum())} scan(s) with a warm focal plane", file=sys.stderr)
        positions, time = positions[~warm], time[~warm]
    seen = np.isin(d.roles[positions], (TRAIN, BUFFER))
    if seen.any() and not in_sample:
        days = np.unique(d.days[positions][seen])
        raise UsageError(
            f"--start/--end: {int(seen.sum())} of {len(positions)} scans fall on {len(days)} "
            f"day(s) the model trained on or that buffer them ({days[0]}"
            f"{' .. ' + str(days[-1]) if len(days) > 1 else ''}); give --in-sample to score "
            "them, labelled in_sample"
        )
    label = f"{str(time[0])[:16]} .. {str(time[-1])[:16]}"
    return _selection(store_path, d, positions, label, in_sample=bool(seen.any()))


def _selection(store_path, d: _Days, positions, label: str, in_sample: bool) -> Selection:
    train = d.slots(TRAIN)
    if not len(train):
        raise UsageError(
            f"data store {store_path} holds no scan of the run's recorded training days: the "
            "least-squares baseline is fitted on them"
        )
    return Selection(
        Path(store_path), positions, d.table.time[positions], d.days[positions], train,
        label, in_sample, d.table.time,
    )  # fmt: skip


@dataclass(frozen=True)
class Batch:
    time: np.ndarray  # (N,)
    days: np.ndarray  # (N,) local solar days
    bt: np.ndarray  # (N, C, H, W) K
    target: np.ndarray  # (N, 3, H, W) reflectance in the model's convention, filled as trained
    plain: np.ndarray  # (N, 3, H, W) plain reflectance factor (NaN kept)
    sza: np.ndarray  # (N, H, W) deg
    valid: np.ndarray  # (N, H, W): every input and target band finite


def read(model: Translator, store: Store, positions: Sequence[int], time, days=None) -> Batch:
    """Whole scans with the target as the training crops have it (the model's transform):
    the scores of the training's validation and of an evaluation are of one thing."""
    cfg, tf = model.data_cfg, model.transform
    arrays = store.scans(positions, [*cfg.bands, SZA])
    bt = np.stack([arrays[b] for b in cfg.input_bands], 1)
    refl = {b: arrays[b] for b in cfg.target_bands}
    sza = arrays[SZA]
    target = tf.reflectance(tf.target(refl, sza, axis=1)).astype(np.float32)
    days = np.zeros(len(positions), "datetime64[D]") if days is None else np.asarray(days)
    plain = tf.composite(refl, axis=1)
    return Batch(np.asarray(time), days, bt, target, plain, sza, tf.valid(bt, refl, 1))


def batches(
    model: Translator, sel: Selection, size: int, rank: int = 0, world: int = 1
) -> Iterator[Batch]:
    """This rank's scans (every ``world``-th), ``size`` at a time."""
    mine = np.arange(rank, len(sel.positions), world)
    for start in range(0, len(mine), size):
        part = mine[start : start + size]
        yield read(model, sel.store, sel.positions[part], sel.time[part], sel.days[part])


def training_sample(sel: Selection, n: int = 48) -> np.ndarray:
    """Training scans for the least-squares fit, spread evenly over the training days."""
    train = sel.train
    take = np.floor((np.arange(min(n, len(train))) + 0.5) * len(train) / min(n, len(train)))
    return train[take.astype(int)]
