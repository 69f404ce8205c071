"""Preprocessing stage: ABI L1b archive -> one chunked, resumable Zarr store, under MPI.

``run`` is imported on first use: the pipeline imports mpi4py, whose import initialises MPI,
and the data stage imports this package's store layout into every DataLoader worker.
"""

from .catalog import Catalog, Scan, build_catalog
from .config import ConfigError, PreprocessConfig, load_config
from .store import LAYOUT_KEY, LAYOUT_VERSION, StoreError

__all__ = [
    "LAYOUT_KEY",
    "LAYOUT_VERSION",
    "Catalog",
    "ConfigError",
    "PreprocessConfig",
    "Scan",
    "StoreError",
    "build_catalog",
    "load_config",
    "run",
]


def __getattr__(name: str):
    if name == "run":
        from .pipeline import run

        return run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
