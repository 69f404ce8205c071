"""Preprocessing stage: ABI L1b archive -> one chunked, resumable Zarr store, under MPI."""

from .catalog import Catalog, Scan, build_catalog
from .config import ConfigError, PreprocessConfig, load_config
from .pipeline import run
from .store import StoreError

__all__ = [
    "Catalog",
    "ConfigError",
    "PreprocessConfig",
    "Scan",
    "StoreError",
    "build_catalog",
    "load_config",
    "run",
]
