"""The preprocessed Zarr store between the stages: its layout, and read-only access to it."""

from . import layout
from .reader import (
    ScanTable,
    Store,
    StoreError,
    StoreNotFound,
    decode_time,
    is_store,
    open_array,
)

__all__ = [
    "ScanTable",
    "Store",
    "StoreError",
    "StoreNotFound",
    "decode_time",
    "is_store",
    "layout",
    "open_array",
]
