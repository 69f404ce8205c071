"""The method learns: the tiny config, trained single-process on CPU for a few minutes on a
synthetic store, beats a per-pixel least-squares IR -> RGB baseline on held-out days, in RMSE
and SSIM on the reflectance scale. Run with -s to see the figures."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from hpc_vqvae.data import make_loader
from hpc_vqvae.metrics import image_metrics
from hpc_vqvae.model import VQGANLoss, VQModel, build_discriminator
from hpc_vqvae.train.config import load_config
from hpc_vqvae.train.schedule import lr_factor
from hpc_vqvae.train.steps import discriminator_step, generator_step
from tests.helpers import TINY, build_store

pytestmark = pytest.mark.slow

TRAIN_SECONDS = 600  # a guard only: the run is tiny.yaml's max_steps (~2.5 min on 2 cores)


@pytest.fixture(scope="module")
def daytime_store(tmp_path_factory) -> Path:
    """G17 M1 around local noon (17-23 UTC) on 6 days; 2 held-out days for validation."""
    return build_store(
        tmp_path_factory.mktemp("learn"), "2020-05-01", "2020-05-06", 2, tuple(range(17, 24))
    )


def _batches(loader):
    epoch = 0
    while True:
        loader.dataset.set_epoch(epoch)
        yield from loader
        epoch += 1


def _least_squares(train_loader, n_batches: int) -> torch.Tensor:
    """Per-pixel affine map IR -> RGB fitted on masked training pixels."""
    xs, ys = [], []
    for _, batch in zip(range(n_batches), _batches(train_loader), strict=False):
        m = batch["mask"].bool().expand(-1, 1, -1, -1).reshape(-1)
        x = batch["ir"].permute(0, 2, 3, 1).reshape(-1, batch["ir"].shape[1])[m]
        y = batch["vis"].permute(0, 2, 3, 1).reshape(-1, 3)[m]
        xs.append(torch.cat([x, torch.ones(len(x), 1)], 1))
        ys.append(y)
    return torch.linalg.lstsq(torch.cat(xs).double(), torch.cat(ys).double()).solution.float()


def _evaluate(predict, val_loader, to_reflectance) -> dict:
    preds, targets, masks = [], [], []
    with torch.no_grad():
        for batch in val_loader:
            preds.append(to_reflectance(predict(batch["ir"]).clamp(-1, 1)))
            targets.append(to_reflectance(batch["vis"]))
            masks.append(batch["mask"])
    return image_metrics(torch.cat(preds), torch.cat(targets), torch.cat(masks))


@pytest.fixture
def all_cores():
    """One process trains here, so it may use every core (make test sets OMP_NUM_THREADS=1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield
    torch.set_num_threads(before)


def test_tiny_vqgan_beats_least_squares(daytime_store, all_cores):
    torch.manual_seed(0)
    cfg = load_config(TINY, [f"data.store={daytime_store}"])
    train = make_loader(cfg.data, "train", cfg.train.batch_size)
    val = make_loader(cfg.data, "val", 32)
    to_refl = train.dataset.normalizer.vis_to_reflectance

    model, disc = VQModel(cfg.model), build_discriminator(cfg.model)
    loss_fn = VQGANLoss(cfg.loss).train()
    lr = cfg.learning_rate(world_size=1)
    opt_g = torch.optim.Adam(model.parameters(), lr=lr, betas=cfg.optim.betas)
    opt_d = torch.optim.Adam(
        disc.parameters(), lr=lr * cfg.optim.disc_lr_scale, betas=cfg.optim.betas
    )

    t0, step, log = time.monotonic(), 0, {}
    for step, batch in enumerate(_batches(train)):
        if step >= cfg.train.max_steps or time.monotonic() - t0 > TRAIN_SECONDS:
            break
        for opt, scale in ((opt_g, 1.0), (opt_d, cfg.optim.disc_lr_scale)):
            for group in opt.param_groups:
                group["lr"] = lr * scale * lr_factor(step, cfg.optim, cfg.train.max_steps)
        loss, log, rec = generator_step(model, disc, loss_fn, batch, step)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt_g.step()
        if loss_fn.disc_factor(step) > 0:
            d_loss, d_log = discriminator_step(disc, loss_fn, batch, rec, step)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
    model.eval()

    weights = _least_squares(train, 40)

    def baseline(ir):
        x = torch.cat([ir, torch.ones_like(ir[:, :1])], 1).permute(0, 2, 3, 1)
        return (x @ weights).permute(0, 3, 1, 2)

    ours = _evaluate(lambda ir: model(ir)[0], val, to_refl)
    base = _evaluate(baseline, val, to_refl)
    print(f"\n{cfg.describe_lr(world_size=1)}")
    print(
        f"LEARN {step} steps in {time.monotonic() - t0:.0f} s; held-out days: "
        f"VQGAN RMSE {ours['val/rmse']:.4f} SSIM {ours['val/ssim']:.4f} | least squares RMSE "
        f"{base['val/rmse']:.4f} SSIM {base['val/ssim']:.4f} | perplexity "
        f"{float(log['train/perplexity']):.1f}"
    )
    assert ours["val/rmse"] < base["val/rmse"]
    assert ours["val/ssim"] > base["val/ssim"]
