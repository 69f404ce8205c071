"""What training needs of a store, checked before a job starts: one line naming the store and
the problem (the same checks every dataset makes); in a job, read by rank 0 alone and
broadcast, with its refusal, to every rank (two real ranks)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from hpc_vqvae.data import DataConfig
from hpc_vqvae.data.preflight import preflight, shared_training_data, training_data
from hpc_vqvae.errors import UsageError
from hpc_vqvae.store import StoreNotFound
from hpc_vqvae.world import free_port
from tests.helpers.stores import build_store
from tests.helpers.training import train_cmd, train_env


def test_the_summary_names_satellite_grid_and_split(make_cfg):
    line = preflight(make_cfg())
    assert "(G17 M1, grid 500x500)" in line and "validation days" in line
    assert "training, " in line and "test scans" in line and "\n" not in line


@pytest.mark.parametrize(
    "change, culprit",
    [
        ({"patch_size": 512}, "set data.patch_size to at most 500"),
        ({"input_bands": ["C11", "C13", "C07"]}, "band C07 is not in data store"),
        ({"val_fraction": 0.9}, "none to train on"),
    ],
)
def test_a_store_that_cannot_serve_is_one_line(make_cfg, change, culprit):
    with pytest.raises(UsageError, match=culprit) as err:
        preflight(make_cfg(**change))
    assert "\n" not in str(err.value)


def test_no_store_or_no_daytime(tmp_path):
    with pytest.raises(StoreNotFound, match="does not exist"):
        preflight(DataConfig(store=tmp_path / "none.zarr"))
    nights = build_store(tmp_path, "2020-06-01", "2020-06-02", 1, (8,))  # local midnight
    with pytest.raises(UsageError, match="no written train scan has daytime"):
        preflight(DataConfig(store=nights, patch_size=32, test_fraction=0, split_blocks=1))


def test_train_with_a_missing_store_is_one_line(tmp_path):
    cmd = train_cmd(tmp_path / "run", f"data.store={tmp_path}/none.zarr")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "none.zarr does not exist" in line
    assert not (tmp_path / "run").exists()


def _rank(rank: int, port: int, cfgs: list[dict], out: Path) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    results = []
    for cfg in cfgs:  # rank 1's store does not exist: it must never be read there
        mine = DataConfig(**(cfg if rank == 0 else {**cfg, "store": out / "nowhere.zarr"}))
        try:
            data = shared_training_data(mine)
            results.append({"train": data.split.train.tolist(), "stats": data.statistics})
        except UsageError as err:
            results.append({"refusal": str(err)})
    dist.destroy_process_group()
    (out / f"{rank}.json").write_text(json.dumps(results, default=float))


@pytest.mark.slow
def test_rank_0_reads_the_store_and_every_rank_gets_its_answer_or_refusal(make_cfg, tmp_path):
    good = make_cfg().model_dump(mode="json")
    cfgs = [good, {**good, "patch_size": 512}]
    mp.spawn(_rank, args=(free_port(), cfgs, tmp_path), nprocs=2, join=True)
    zero, one = (json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1))
    assert zero == one
    expected = training_data(make_cfg())
    assert zero[0]["train"] == expected.split.train.tolist() and len(zero[0]["train"]) > 0
    assert zero[0]["stats"] == json.loads(json.dumps(expected.statistics, default=float))
    assert "set data.patch_size to at most 500" in zero[1]["refusal"]
