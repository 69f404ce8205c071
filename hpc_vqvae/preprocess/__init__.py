"""Preprocessing stage: ABI L1b archive -> one chunked, resumable Zarr store, under MPI.

The job itself is ``pipeline.run`` (it imports mpi4py, whose import starts MPI: the entry
point chooses how first, see ``startup``); this package's top level stays free of MPI.
"""

from .catalog import Catalog, Scan, build_catalog
from .config import PreprocessConfig, load_config

__all__ = ["Catalog", "PreprocessConfig", "Scan", "build_catalog", "load_config"]
