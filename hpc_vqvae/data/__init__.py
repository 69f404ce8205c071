"""Data stage: the preprocessed Zarr store -> normalised, masked training crops as tensors."""

from .config import DataConfig
from .dataset import EpochSampler, PatchDataset, make_loader
from .normalize import Normalizer
from .split import Split, split_days, val_day_positions
from .store import ScanTable, open_store, scan_table

__all__ = [
    "DataConfig",
    "EpochSampler",
    "Normalizer",
    "PatchDataset",
    "ScanTable",
    "Split",
    "make_loader",
    "open_store",
    "scan_table",
    "split_days",
    "val_day_positions",
]
