"""Data stage: the preprocessed Zarr store -> normalised, masked training crops as tensors."""

from .config import DataConfig
from .dataset import EpochSampler, PatchDataset, make_loader
from .normalize import Normalizer
from .split import Split, split_days, val_day_positions

__all__ = [
    "DataConfig",
    "EpochSampler",
    "Normalizer",
    "PatchDataset",
    "Split",
    "make_loader",
    "split_days",
    "val_day_positions",
]
