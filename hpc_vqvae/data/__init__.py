"""Data stage: the preprocessed Zarr store -> normalised, masked training crops as tensors."""

from .config import DataConfig
from .dataset import EpochSampler, PatchDataset, make_loader
from .normalize import Normalizer
from .split import Split, SplitSettings, assign_roles, solar_days, split_days

__all__ = [
    "DataConfig",
    "EpochSampler",
    "Normalizer",
    "PatchDataset",
    "Split",
    "SplitSettings",
    "assign_roles",
    "make_loader",
    "solar_days",
    "split_days",
]
