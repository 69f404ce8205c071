"""Crops of the store as tensors: random daytime crops for training, a fixed grid for validation.

Every training sample is a pure function of (seed, epoch, global index): its scan, crop and
augmentation come from ``np.random.default_rng([seed, epoch, g])`` alone, so batches do not
depend on num_workers, on access order, or on which rank asks; rank r of w owns the global
indices g = r + i * w. The zarr handle is opened lazily in each process that reads (a
DataLoader worker opens its own) and is never pickled.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Literal

import numpy as np
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import UsageError
from ..store import open_array
from ..store.layout import SZA
from .config import DataConfig
from .crops import (
    daytime_origins,
    dihedral,
    draw_dihedral,
    grid_origins,
    pick_daytime_origin,
    random_origin,
)
from .preflight import TrainingData, training_data
from .transform import Transform

SplitName = Literal["train", "val", "test"]
# Patch mode: scans drawn for one sample before giving up (each is read once, its all-daytime
# windows found exactly; a scan without one is remembered and skipped without a read).
MAX_SCAN_DRAWS = 64


class PatchDataset(Dataset):
    """Map-style dataset of dicts: ir (C,P,P), vis (3,P,P), mask (1,P,P) float32 and
    time_index, y0, x0 int64 scalars (the store slot and the crop's corner before
    augmentation). ir and vis are in network units (see transform.py: missing values filled)
    and mask is 1 where every input and target value is finite and sza < target_sza_max."""

    def __init__(
        self,
        cfg: DataConfig,
        split: SplitName,
        rank: int = 0,
        world_size: int = 1,
        limit: int | None = None,
        data: TrainingData | None = None,
    ):
        """``limit``: of a scored split's crops, this many (all ranks), spread evenly over its
        time-sorted crops, so that every day and hour of the split is scored alike. ``data``:
        the store's times, split and statistics, if the job has read them already."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        self.cfg, self.split, self.rank, self.world_size = cfg, split, rank, world_size
        self.epoch = 0
        data = data or training_data(cfg)
        parts = data.split
        self.transform = Transform(
            cfg, data.statistics, f"the training days of data store {cfg.store}"
        )
        self.grid_shape = data.grid_shape
        self.times, self.day_split = data.time, parts
        self.scans = parts.positions(split)
        if len(self.scans) == 0:
            raise UsageError(f"data store {cfg.store}: no written {split} scan has daytime")
        self._val_items = np.empty((0, 3), np.int64)  # (time_index, y0, x0) rows
        if split != "train":  # an array: a 5-year split holds millions of crops
            grid = grid_origins(self.grid_shape, cfg.patch_size, cfg.val_patches_per_scan)
            every = np.column_stack(
                [np.repeat(self.scans, len(grid)), np.tile(np.array(grid), (len(self.scans), 1))]
            )
            self._val_items = spread(every, limit)[rank::world_size]
        if split == "train" and cfg.samples_per_epoch < world_size:
            raise ValueError(f"samples_per_epoch {cfg.samples_per_epoch} < world_size")
        self._no_daytime: set[int] = set()
        self._arrays: dict[str, zarr.Array] = {}
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._pid: int | None = None
        self._names = [*cfg.bands, SZA]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's samples (train); make_loader's sampler passes it to workers."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.split == "train":
            return self.cfg.samples_per_epoch // self.world_size
        return len(self._val_items)

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, i = index if isinstance(index, tuple) else (self.epoch, index)
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} {self.split} samples")
        if self.split != "train":
            t, y0, x0 = self._val_items[i].tolist()
            return self._item(t, y0, x0, k=0)
        return self._item(*self._draw(int(epoch), i))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"], state["_cache"], state["_pid"] = {}, OrderedDict(), None
        return state

    def _array(self, name: str) -> zarr.Array:
        """The store's array, opened by this process on first use (fork-safe: pid checked)."""
        if self._pid != os.getpid():
            self._arrays, self._cache, self._pid = {}, OrderedDict(), os.getpid()
        if name not in self._arrays:
            self._arrays[name] = open_array(self.cfg.store, name)
        return self._arrays[name]

    def _scan(self, t: int, names: list[str]) -> dict[str, np.ndarray]:
        """Whole-scan arrays of slot t, decoded once and kept for the next few samples: an
        inner chunk is a whole scan, so a crop costs as much to decode as the scan."""
        cached = self._cache.get(t)
        if cached is None or any(n not in cached for n in names):
            self._array(names[0])  # resets the cache in a new process
            cached = {n: self._array(n)[t] for n in names}
            if self.cfg.scan_cache == 0:
                return cached
            self._cache[t] = cached
            while len(self._cache) > self.cfg.scan_cache:
                self._cache.popitem(last=False)
        self._cache.move_to_end(t)
        return cached

    def _draw(self, epoch: int, i: int) -> tuple[int, int, int, int]:
        """(time index, y0, x0, symmetry) of training sample i.

        The scan comes from a stream shared by ``crops_per_scan`` consecutive samples of this
        rank (so one decoded scan serves them all); crop and symmetry from the sample's own."""
        g = self.rank + i * self.world_size
        rng = np.random.default_rng([self.cfg.seed, epoch, g])
        k = self.cfg.crops_per_scan
        key = [self.cfg.seed, epoch, self.rank, self.world_size, i // k, 7]
        scan_rng = rng if k == 1 else np.random.default_rng(key)  # k=1: one stream per sample
        for _ in range(MAX_SCAN_DRAWS):
            t = int(self.scans[scan_rng.integers(len(self.scans))])
            if self.cfg.day_mode == "pixel":
                y0, x0 = random_origin(rng, self.grid_shape, self.cfg.patch_size)
                return t, y0, x0, self._symmetry(rng)
            found = self._daytime_crop(rng, t)
            if found is not None:
                return t, *found, self._symmetry(rng)
        p, limit = self.cfg.patch_size, self.cfg.target_sza_max
        raise RuntimeError(
            f"no all-daytime {p}x{p} crop (sza < {limit}) in {MAX_SCAN_DRAWS} training scans "
            f"drawn for sample {g}; use day_mode='pixel', a smaller patch_size or a larger "
            "target_sza_max"
        )

    def _daytime_crop(self, rng: np.random.Generator, t: int) -> tuple[int, int] | None:
        """A uniform all-daytime crop origin of scan t, or None if it has none."""
        if t in self._no_daytime:
            return None
        sza = self._scan(t, self._names)[SZA]
        origins = daytime_origins(sza, self.cfg.patch_size, self.cfg.target_sza_max)
        if len(origins) == 0:
            self._no_daytime.add(t)
            return None
        return pick_daytime_origin(rng, origins, self.grid_shape, self.cfg.patch_size)

    def _symmetry(self, rng: np.random.Generator) -> int:
        return draw_dihedral(rng) if self.cfg.augment else 0

    def _item(self, t: int, y0: int, x0: int, k: int) -> dict[str, torch.Tensor]:
        p, tf = self.cfg.patch_size, self.transform
        ys, xs = slice(y0, y0 + p), slice(x0, x0 + p)
        scan = self._scan(t, self._names)
        bt = np.stack([scan[b][ys, xs] for b in self.cfg.input_bands])
        refl = {b: scan[b][ys, xs] for b in self.cfg.target_bands}
        sza = scan[SZA][ys, xs]
        mask = tf.valid(bt, refl) & (sza < self.cfg.target_sza_max)
        ir, vis = tf.input(bt), tf.target(refl, sza)
        return {
            "ir": _tensor(ir, k),
            "vis": _tensor(vis, k),
            "mask": _tensor(mask[None].astype(np.float32), k),
            "time_index": torch.tensor(t, dtype=torch.int64),
            "y0": torch.tensor(y0, dtype=torch.int64),
            "x0": torch.tensor(x0, dtype=torch.int64),
        }


def spread(items: np.ndarray, n: int | None) -> np.ndarray:
    """``n`` of ``items`` at evenly spaced positions (all of them when n is None or more)."""
    if n is None or n >= len(items):
        return items
    return items[np.floor((np.arange(n) + 0.5) * len(items) / n).astype(int)]


def _tensor(x: np.ndarray, k: int) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(dihedral(x, k)))


class EpochSampler(Sampler):
    """Yields (epoch, index) pairs read from the dataset when an epoch starts, so persistent
    workers, which hold a stale copy of the dataset, still draw the current epoch's samples."""

    def __init__(self, dataset: PatchDataset):
        self.dataset = dataset
        self.start = 0  # a resumed run starts its first epoch here, then at 0 again

    def __iter__(self):
        epoch, start, self.start = self.dataset.epoch, self.start, 0
        return iter([(epoch, i) for i in range(start, len(self.dataset))])

    def __len__(self) -> int:
        return len(self.dataset)


def make_loader(
    cfg: DataConfig,
    split: SplitName,
    batch_size: int,
    rank: int = 0,
    world_size: int = 1,
    epoch: int = 0,
    limit: int | None = None,
    data: TrainingData | None = None,
) -> DataLoader:
    """A DataLoader over this rank's samples; call ``loader.dataset.set_epoch(e)`` before each
    epoch. Training drops a last partial batch (every step has ``batch_size`` samples)."""
    dataset = PatchDataset(cfg, split, rank, world_size, limit, data)
    dataset.set_epoch(epoch)
    if split == "train" and len(dataset) < batch_size:
        raise ValueError(
            f"batch_size {batch_size} exceeds this rank's {len(dataset)} samples per epoch"
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(dataset),
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=split == "train",
        # Its own generator: a loader must not draw from the global RNG, or a resumed run's
        # random numbers (codebook revival) would shift against an uninterrupted run's.
        generator=torch.Generator().manual_seed(cfg.seed),
    )
