"""The StoreWriter in one process: it opens the store's group once per process and writes,
resumes and finalizes through it (the MPI runs in test_stage drive it across ranks)."""

import numpy as np
import pytest
import zarr

from hpc_vqvae.abi.bands import SECTOR_SHAPE_2KM
from hpc_vqvae.preprocess.catalog import build_catalog
from hpc_vqvae.preprocess.config import load_config
from hpc_vqvae.preprocess.scan import process_scan
from hpc_vqvae.preprocess.writer import StoreWriter
from hpc_vqvae.store import Store, layout, stats


@pytest.fixture
def opens(monkeypatch) -> list[str]:
    """The path of every group opened for writing (mode r+), counted at zarr's own entry
    point: only the writer opens the store that way (readers and the ownership check: r)."""
    seen: list[str] = []
    real = zarr.open_group

    def spy(store=None, *args, **kwargs):
        if kwargs.get("mode") == "r+":
            seen.append(str(store))
        return real(store, *args, **kwargs)

    monkeypatch.setattr(zarr, "open_group", spy)
    return seen


def _times(scans) -> np.ndarray:
    return np.array([np.datetime64(s.start, "ns") for s in scans], dtype="datetime64[ns]")


def test_one_group_per_process_through_create_resume_and_append(archive, tmp_path, opens):
    out = tmp_path / "s.zarr"
    overrides = {"archive": archive, "output": out, "years": "2020", "scans_per_shard": 3}
    cfg = load_config(None, overrides)
    shape = SECTOR_SHAPE_2KM[cfg.sector]
    scans = build_catalog(cfg).scans[:5]
    results = [process_scan(s, cfg, shape) for s in scans]

    # Rank 0 of a first run: the template, then its shard's regions, then the final record.
    first = StoreWriter(cfg, shape)
    assert first.read_state() is None
    first.create(_times(scans[:4]))
    group = first.group
    first.write_slots(0, [results[0], None, results[2]])
    written, partials = first.read_stats(0, 3)
    assert written.tolist() == [layout.SCAN_WRITTEN, layout.SCAN_FAILED, layout.SCAN_WRITTEN]
    np.testing.assert_array_equal(partials[0], results[0].stats)

    # Another rank: it opens the template on first use, and writes its own shard.
    other = StoreWriter(cfg, shape)
    other.write_slots(3, [results[3]])
    assert other.read_stats(3, 4)[0].tolist() == [layout.SCAN_WRITTEN]

    summary = {"C13": stats.summary(partials[0, 0], daytime_only=False)}
    held = first.finalize(summary, results[0].projection)
    assert first.group is group and opens == [str(out), str(out)]  # once each process
    first_last = [str(np.datetime64(scans[i].start, "s")) for i in (0, 3)]
    assert held == {"G17": {"scans": 3, "first": first_last[0], "last": first_last[1]}}

    # A resumed run: the state is read through the group that then appends and writes.
    opens.clear()
    again = StoreWriter(cfg, shape)
    times, written, attrs = again.read_state()
    np.testing.assert_array_equal(times, _times(scans[:4]))
    again.check_compatible(attrs)
    again.append(_times(scans[4:]), len(times))
    again.write_slots(1, [results[1]])
    again.write_slots(4, [results[4]])
    again.finalize({})
    assert opens == [str(out)]

    table = Store.open(out).table()
    assert table.written.tolist() == [layout.SCAN_WRITTEN] * 5
    np.testing.assert_array_equal(table.time, _times(scans))
    assert Store.open(out).attrs[layout.SATELLITES]["G17"]["scans"] == 5
