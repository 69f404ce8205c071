"""Data stage: the preprocessed Zarr store -> normalised, masked training crops as tensors."""

from .config import DataConfig
from .dataset import EpochSampler, PatchDataset, make_loader
from .split import Split, SplitSettings, assign_roles, solar_days, split_days
from .transform import Transform

__all__ = [
    "DataConfig",
    "EpochSampler",
    "PatchDataset",
    "Split",
    "SplitSettings",
    "Transform",
    "assign_roles",
    "make_loader",
    "solar_days",
    "split_days",
]
