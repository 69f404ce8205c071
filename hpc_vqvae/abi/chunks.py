"""Decode an HDF5 dataset's deflate-compressed chunks with libdeflate instead of HDF5's zlib.

Inflating is the largest single cost of preprocessing. NOAA stores ``Rad`` and ``DQF`` in
250 x 250 chunks with only the deflate filter. Reading those chunks raw and inflating them
with libdeflate decoded one meso scan's six radiance arrays in 26 ms on one core here,
against 49 ms through HDF5 (zlib's inflate alone took 45 ms of a comparable 63). Any other
layout or filter chain (fletcher32, szip, n-bit, ...) goes through HDF5 as before.
"""

from __future__ import annotations

import deflate
import h5py
import numpy as np

_DEFLATE = h5py.h5z.FILTER_DEFLATE
_SHUFFLE = h5py.h5z.FILTER_SHUFFLE
_FAST_CHAINS = ((_DEFLATE,), (_SHUFFLE, _DEFLATE))

DecodeError = deflate.DeflateError  # a chunk whose zlib stream or checksum is bad


def _filters(var: h5py.Dataset) -> tuple[int, ...] | None:
    """The filter chain of a chunked dataset, in the order HDF5 applies it when writing."""
    dcpl = var.id.get_create_plist()
    if dcpl.get_layout() != h5py.h5d.CHUNKED:
        return None
    return tuple(dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters()))


def _unshuffle(buf: bytes, itemsize: int) -> bytes:
    """Undo HDF5's shuffle: byte plane k holds byte k of every element."""
    planes = np.frombuffer(buf, np.uint8).reshape(itemsize, -1)
    return planes.T.tobytes()


def _decode_chunk(raw: bytes, skipped: int, chain: tuple[int, ...], nbytes: int, itemsize: int):
    """Undo ``chain`` in reverse; bit i of ``skipped`` set means filter i was not applied."""
    for i in reversed(range(len(chain))):
        if skipped >> i & 1:
            continue
        if chain[i] == _DEFLATE:
            raw = deflate.zlib_decompress(raw, nbytes)
        else:
            raw = _unshuffle(raw, itemsize)
    return raw


def read_array(var: h5py.Dataset) -> np.ndarray:
    """The whole dataset, as ``var[()]`` returns it (stored dtype, fill value where a chunk
    was never written). Only numbers take the fast path: strings and compounds are HDF5's."""
    chain = _filters(var)
    if chain not in _FAST_CHAINS or var.dtype.kind not in "biuf" or var.size == 0:
        return np.asarray(var[()])
    dsid, chunk, dtype = var.id, var.chunks, var.dtype
    nbytes = int(np.prod(chunk)) * dtype.itemsize
    n_chunks = dsid.get_num_chunks()
    complete = n_chunks == np.prod([-(-n // c) for n, c in zip(var.shape, chunk, strict=True)])
    out = np.empty(var.shape, dtype) if complete else np.full(var.shape, var.fillvalue, dtype)
    for i in range(n_chunks):
        offset = dsid.get_chunk_info(i).chunk_offset
        skipped, raw = dsid.read_direct_chunk(offset)
        data = _decode_chunk(raw, skipped, chain, nbytes, dtype.itemsize)
        if len(data) != nbytes:
            raise DecodeError(f"chunk at {offset} holds {len(data)} bytes, not {nbytes}")
        block = np.frombuffer(data, dtype).reshape(chunk)
        ends = (min(o + c, n) for o, c, n in zip(offset, chunk, var.shape, strict=True))
        region = tuple(slice(o, e) for o, e in zip(offset, ends, strict=True))
        out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)]
    return out
