import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from hpc_vqvae.data import DataConfig, PatchDataset, make_loader
from hpc_vqvae.data.crops import dihedral
from tests.helpers.stores import expected_mask, raw

BANDS = ["C11", "C13", "C14", "C01", "C02", "C03"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def crop_key(item: dict) -> tuple[int, int, int]:
    return tuple(int(item[k]) for k in ("time_index", "y0", "x0"))


@pytest.mark.parametrize("split", ["train", "val"])
def test_item_shapes_dtypes_and_ranges(make_cfg, split):
    ds = PatchDataset(make_cfg(patch_size=128), split)
    assert len(ds) == (32 if split == "train" else 4 * len(ds.scans))
    item = ds[len(ds) - 1]
    assert {k: (tuple(v.shape), v.dtype) for k, v in item.items()} == {
        "ir": ((3, 128, 128), torch.float32),
        "vis": ((3, 128, 128), torch.float32),
        "mask": ((1, 128, 128), torch.float32),
        "time_index": ((), torch.int64),
        "y0": ((), torch.int64),
        "x0": ((), torch.int64),
    }
    for key in ("ir", "vis", "mask"):
        assert torch.isfinite(item[key]).all()
    assert item["ir"].abs().max() <= 1 and item["vis"].abs().max() <= 1
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    assert item["ir"].std() > 0.01 and item["vis"].std() > 0.01
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_ir_is_the_range_mapping_of_the_store_values(make_cfg, store):
    ds = PatchDataset(make_cfg(augment=False), "train")
    item = ds[3]
    bt = np.stack([raw(store, b, item, 64) for b in ds.cfg.input_bands])
    np.testing.assert_allclose(item["ir"].numpy(), np.clip((bt - 255) / 75, -1, 1), atol=1e-6)


def test_same_seed_epoch_index_gives_the_same_item_in_any_order(make_cfg):
    a, b = PatchDataset(make_cfg(), "train"), PatchDataset(make_cfg(), "train")
    first = [a[i] for i in range(len(a))]
    backwards = [b[i] for i in reversed(range(len(b)))][::-1]
    assert all(same(x, y) for x, y in zip(first, backwards, strict=True))
    a.set_epoch(1)
    again = [a[i] for i in range(len(a))]
    assert sum(same(x, y) for x, y in zip(first, again, strict=True)) == 0
    other_seed = PatchDataset(make_cfg(seed=1), "train")
    assert not same(first[0], other_seed[0])


def test_workers_give_the_batches_of_one_process_every_epoch(make_cfg):
    def batches(workers: int) -> list[list[dict]]:
        loader = make_loader(make_cfg(num_workers=workers), "train", batch_size=8)
        out = []
        for epoch in range(2):
            loader.dataset.set_epoch(epoch)  # persistent workers must see this
            out.append(list(loader))
        return out

    one, two = batches(0), batches(2)
    assert [len(e) for e in one] == [4, 4]
    for e in range(2):
        assert all(same(x, y) for x, y in zip(one[e], two[e], strict=True))
    assert not same(one[0][0], one[1][0])


def test_ranks_draw_disjoint_samples_that_cover_the_epoch(make_cfg):
    """With one crop per scan read, a sample is a function of its global index alone."""
    whole = PatchDataset(make_cfg(crops_per_scan=1), "train")
    seen = []
    for rank in range(4):
        part = PatchDataset(make_cfg(crops_per_scan=1), "train", rank=rank, world_size=4)
        assert len(part) == 8
        for i in range(len(part)):
            assert same(part[i], whole[rank + 4 * i])
            seen.append(rank + 4 * i)
    assert sorted(seen) == list(range(32))


def test_val_shards_are_disjoint_and_cover_the_grid(make_cfg):
    full = [crop_key(x) for x in PatchDataset(make_cfg(), "val")]
    assert len(set(full)) == len(full) == 4 * len({k[0] for k in full})
    shards = [[crop_key(x) for x in PatchDataset(make_cfg(), "val", r, 3)] for r in range(3)]
    assert sorted(sum(shards, [])) == sorted(full)
    assert (
        PatchDataset(make_cfg(), "val", 1, 3)[0].keys() == PatchDataset(make_cfg(), "val")[0].keys()
    )


def test_val_is_deterministic_and_unaugmented(make_cfg, store):
    ds = PatchDataset(make_cfg(augment=True), "val")
    ds.set_epoch(5)
    item = ds[2]
    assert same(item, PatchDataset(make_cfg(augment=True), "val")[2])
    bt = raw(store, "C13", item, 64)
    np.testing.assert_allclose(item["ir"][1].numpy(), np.clip((bt - 255) / 75, -1, 1), atol=1e-6)


def test_patch_mode_crops_are_all_daytime(make_cfg, store):
    cfg = make_cfg(target_sza_max=88.0, samples_per_epoch=64, augment=False)
    ds = PatchDataset(cfg, "train")
    straddling = 0
    for item in ds:
        sza = raw(store, "sza", item, 64)
        assert (sza < 88.0).all(), crop_key(item)
        np.testing.assert_array_equal(
            item["mask"][0].numpy(), expected_mask(store, item, 64, BANDS, 88)
        )
        scan = raw(store, "sza", {**item, "y0": 0, "x0": 0}, 500)
        straddling += bool(scan.max() >= 88.0)
    assert straddling > 0  # some crops come from terminator scans, from their daytime part


def test_patch_mode_without_any_daytime_crop_fails_clearly(make_cfg):
    ds = PatchDataset(make_cfg(target_sza_max=10.0), "train")
    with pytest.raises(RuntimeError, match="no all-daytime 64x64 crop.*day_mode='pixel'"):
        ds[0]


@pytest.mark.parametrize("split", ["train", "val"])
def test_pixel_mode_and_val_mask_night_pixels(make_cfg, store, split):
    cfg = make_cfg(
        day_mode="pixel", target_sza_max=88.0, patch_size=256, augment=False, val_fraction=0.5
    )  # validation: the last two local days, with their evening scans (03 UTC at 137 W)
    ds = PatchDataset(cfg, split)
    partial = 0
    for item in ds:
        want = expected_mask(store, item, 256, BANDS, 88.0)
        np.testing.assert_array_equal(item["mask"][0].numpy(), want)
        partial += 0 < want.mean() < 1
    assert partial > 0  # some crops straddle the target_sza_max line


def test_augmentation_is_one_symmetry_of_the_plain_crop(make_cfg):
    plain = PatchDataset(make_cfg(augment=False), "train")
    augmented = PatchDataset(make_cfg(augment=True), "train")
    used = set()
    for i in range(len(plain)):
        p, a = plain[i], augmented[i]
        assert crop_key(p) == crop_key(a)
        ks = [k for k in range(8) if np.array_equal(dihedral(p["ir"].numpy(), k), a["ir"].numpy())]
        assert len(ks) == 1, i
        for key in ("vis", "mask"):
            np.testing.assert_array_equal(dihedral(p[key].numpy(), ks[0]), a[key].numpy())
        used.add(ks[0])
    assert len(used) > 4


def test_store_handle_is_lazy_and_not_pickled(make_cfg):
    ds = PatchDataset(make_cfg(), "train")
    assert ds._arrays == {}
    item = ds[0]
    assert ds._arrays
    copy = pickle.loads(pickle.dumps(ds))
    assert copy._arrays == {} and copy._pid is None
    assert same(copy[0], item)


def test_missing_store_fails_naming_it(tmp_path):
    path = tmp_path / "nowhere.zarr"
    with pytest.raises(FileNotFoundError, match=f"data store {path} does not exist"):
        PatchDataset(DataConfig(store=path), "train")
    with pytest.raises(ValueError, match=f"data store {tmp_path}: not"):
        PatchDataset(DataConfig(store=tmp_path), "train")


def test_missing_band_fails_naming_band_and_store(make_cfg, store):
    with pytest.raises(ValueError, match=f"band C15 is not in data store {store}"):
        PatchDataset(make_cfg(input_bands=["C11", "C13", "C15"]), "train")
    target = {"R": {"C02": 1.0}, "G": {"C05": 1.0}, "B": {"C01": 1.0}}
    with pytest.raises(ValueError, match="band C05 is not in data store"):
        PatchDataset(make_cfg(target=target), "val")


def test_patch_larger_than_the_grid_fails(make_cfg):
    with pytest.raises(ValueError, match="patch_size 512 exceeds the store grid"):
        PatchDataset(make_cfg(patch_size=512), "train")


def test_consecutive_samples_share_a_scan_read(make_cfg):
    """crops_per_scan=4: samples 0-3 of a rank come from one scan (decoded once), with their own
    crops; ranks draw their own scans, and the draw is fixed by (seed, epoch, rank, world)."""
    ds = PatchDataset(make_cfg(crops_per_scan=4, augment=False), "train", rank=1, world_size=2)
    items = [ds[i] for i in range(8)]
    scans = [int(x["time_index"]) for x in items]
    assert len(set(scans[:4])) == 1 and len(set(scans[4:])) == 1
    assert len({(int(x["y0"]), int(x["x0"])) for x in items[:4]}) == 4
    again = PatchDataset(make_cfg(crops_per_scan=4, augment=False), "train", rank=1, world_size=2)
    assert all(same(a, again[i]) for i, a in enumerate(items))
    other = PatchDataset(make_cfg(crops_per_scan=4, augment=False), "train", rank=0, world_size=2)
    assert not all(same(a, other[i]) for i, a in enumerate(items))


def test_data_stage_does_not_start_mpi():
    """Every DataLoader worker imports the data stage: that must import neither the
    preprocessing stage nor mpi4py (whose import initialises MPI) nor dask."""
    code = (
        "import sys, hpc_vqvae.data; "
        "bad = {'mpi4py', 'dask', 'hpc_vqvae.preprocess'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_validation_crops_spread_over_every_day_and_hour(make_cfg):
    """A limited validation set is a sample of the whole block, not its first hours."""
    cfg = make_cfg(val_fraction=0.5, val_patches_per_scan=4)
    full = PatchDataset(cfg, "val")
    every = [full._val_items[i] for i in range(len(full))]
    some = PatchDataset(cfg, "val", limit=len(every) // 4)
    times = full.times[[t for t, _, _ in some._val_items]].astype("datetime64[h]")
    all_times = full.times[[t for t, _, _ in every]].astype("datetime64[h]")
    assert len(some) == len(every) // 4
    assert set(times.astype("datetime64[D]")) == set(all_times.astype("datetime64[D]"))
    assert len(set(times)) >= len(set(all_times)) // 2  # most scans (hours) of the block
    assert min(times) == min(all_times) and max(times) >= sorted(set(all_times))[-2]
