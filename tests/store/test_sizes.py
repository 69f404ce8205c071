"""The store's shard and block sizes, chosen from the archive's size, and the statistics that
are reduced block by block: the decisions that matter at 2.6 million scans, checked small."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpc_vqvae.store import layout, stats

DATA_ARRAYS = 7  # six bands and sza, as the default config stores


def _files(n: int, shard: int, block: int) -> int:
    """Data shards of every data array, blocks of every per-scan array and of time."""
    return DATA_ARRAYS * math.ceil(n / shard) + (len(layout.PER_SCAN) + 1) * math.ceil(n / block)


@pytest.mark.parametrize("n", [263_000, 2_630_000])
def test_years_of_meso_scans_stay_under_200_thousand_files(n):
    shard, block = layout.shard_sizes(n, DATA_ARRAYS)
    assert _files(n, shard, block) <= 200_000
    assert block % shard == 0 and math.ceil(n / block) >= 256  # blocks enough to deal out
    if n > 1_000_000:
        assert _files(n, 8, 8) > 5_000_000  # what layout 3's fixed 8 scans a file made


def test_small_stores_keep_small_shards_and_given_sizes_are_kept():
    assert layout.shard_sizes(48, DATA_ARRAYS) == (8, 8)
    assert layout.shard_sizes(26_300, DATA_ARRAYS)[0] == 8
    assert layout.shard_sizes(10**6, DATA_ARRAYS, 4, 12) == (4, 12)
    assert layout.shard_sizes(10**6, DATA_ARRAYS, 4)[1] % 4 == 0


def test_sizes_grow_with_the_store_and_files_grow_no_faster():
    sizes = [layout.shard_sizes(n, DATA_ARRAYS) for n in np.geomspace(10, 3e7, 40).astype(int)]
    assert sizes == sorted(sizes)
    assert max(s for s, _ in sizes) <= layout.MAX_SCANS_PER_SHARD


def test_the_tree_reduction_is_the_scalar_update_and_one_pass():
    rng = np.random.default_rng(1)
    parts = [rng.normal(280, 20, n) for n in (3, 1000, 0, 37, 1, 500)]
    partials = np.array([stats.partial(p) for p in parts])
    total = stats.reduce_in_order(partials)
    every = np.concatenate(parts)
    assert total[0] == every.size and np.isclose(total[1], every.mean(), rtol=1e-14)
    assert np.isclose(np.sqrt(total[2] / total[0]), every.std(), rtol=1e-12)
    assert (total[3], total[4]) == (every.min(), every.max())
    # vectorised over bands: each column as if reduced alone
    both = stats.reduce_in_order(np.stack([partials, partials[::-1]], axis=1))
    np.testing.assert_array_equal(both[0], total)
    np.testing.assert_array_equal(both[1], stats.reduce_in_order(partials[::-1]))
    np.testing.assert_array_equal(stats.reduce_in_order(partials[2:3]), stats.EMPTY)


def test_blocks_reduced_on_any_number_of_ranks_give_the_same_bits():
    rng = np.random.default_rng(2)
    n, block = 100, 8
    store = np.array([[stats.partial(rng.normal(250, 30, 50))] for _ in range(n)])  # (n, 1, 5)
    wanted = np.sort(rng.choice(n, 60, replace=False))

    def read(b: int) -> np.ndarray:
        return store[b * block : (b + 1) * block]

    one = stats.over_blocks(stats.block_totals(wanted, block, read))
    for ranks in (2, 3, 5):
        totals: dict[int, np.ndarray] = {}
        for rank in range(ranks):
            mine = wanted[(wanted // block) % ranks == rank]
            totals.update(stats.block_totals(mine, block, read))
        np.testing.assert_array_equal(stats.over_blocks(totals), one)
    assert one[0, 0] == 60 * 50
    assert stats.over_blocks({}) is None
