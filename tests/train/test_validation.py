"""Validation over uneven shares: every crop is scored exactly once, on one rank or two."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hpc_vqvae.data import make_loader
from hpc_vqvae.model import VQModel, build_discriminator
from hpc_vqvae.train.config import load_config
from hpc_vqvae.train.engines import build_engines
from hpc_vqvae.train.validation import validate
from hpc_vqvae.world import free_port
from tests.helpers.real import TINY

CROPS, BATCH = 5, 2  # 2 ranks: 3 crops (2 batches) and 2 crops (1 batch)


def _validate(
    store: str, rank: int, world: int, zero_stage: int | None = None
) -> tuple[dict, torch.Tensor, int]:
    """(metrics, code counts, forwards made) of a seeded tiny model on ``CROPS`` crops: the
    bare model, or a DeepSpeed engine at ``zero_stage`` (fp32) around it."""
    cfg = load_config(
        TINY,
        [
            f"data.store={store}",
            "data.test_fraction=0",
            "data.val_patches_per_scan=2",
            "train.precision=fp32",
            "loss.adaptive_weight=false",
            f"train.zero_stage={zero_stage or 0}",
        ],
    )
    loader = make_loader(cfg.data, "val", BATCH, rank, world, limit=CROPS)
    torch.manual_seed(0)
    model = VQModel(cfg.model)
    forwards = []
    model.register_forward_hook(lambda *_: forwards.append(1))
    engine = model
    if zero_stage is not None:
        engine, _ = build_engines(cfg, model, build_discriminator(cfg.model), world, "cpu")
    out, first = validate(engine, loader, loader.dataset.transform, "cpu")
    assert model.training  # handed back in training mode
    return out, first["code_counts"], len(forwards)


def _rank(rank: int, port: int, store: str, zero_stage: int | None, out: dict) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        DS_ACCELERATOR="cpu",
    )
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    out[rank] = _validate(store, rank, 2, zero_stage)
    dist.destroy_process_group()


@pytest.mark.parametrize(
    "zero_stage", [None, pytest.param(3, marks=[pytest.mark.slow, pytest.mark.deepspeed])]
)
def test_two_ranks_score_the_crops_of_one(train_store, zero_stage):
    """5 crops on 2 ranks at batch 2: rank 0 has two batches, rank 1 one. Rank 1 makes an
    unscored forward for the collective (at ZeRO-3 every forward gathers the parameters from
    both ranks), and both ranks' sums give one rank's metrics: the same crops, each once
    (dropping rank 0's last batch would score 4 crops, not 5)."""
    one, one_codes, _ = _validate(str(train_store), 0, 1)
    out = mp.Manager().dict()
    args = (free_port(), str(train_store), zero_stage, out)
    mp.spawn(_rank, args=args, nprocs=2, join=True)
    (two, two_codes, forwards0), (two1, _, forwards1) = out[0], out[1]
    assert forwards0 == forwards1 == 2  # as many forwards on every rank (ZeRO-3 gathers)
    assert one["val/crops"] == two["val/crops"] == CROPS
    assert torch.equal(one_codes, two_codes) and float(one_codes.sum()) > 0
    assert two == two1  # every rank reports the reduced numbers
    assert set(one) == set(two)
    for key, value in one.items():
        assert two[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
