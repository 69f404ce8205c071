"""The pix2pix-style U-Net baseline (``model.generator: unet``): its shapes and contract with the
trainer, that its skip connections carry the input at every scale, its config, and a real
DeepSpeed run of it through the trainer, the export, the Translator and ``evaluate``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from hpc_vqvae.model import (
    ModelConfig,
    UNet,
    VQGANLoss,
    VQModel,
    build_discriminator,
    build_generator,
    load_generator,
    save_export,
)
from hpc_vqvae.model.translator import Translator, translate_batch
from hpc_vqvae.train import speed
from hpc_vqvae.train.config import ConfigError, load_config
from hpc_vqvae.train.steps import generator_step
from tests.helpers.real import REPO
from tests.helpers.training import read_metrics, run_trainer, small_run, train_env

TINY = ModelConfig(generator="unet", ch=8, ch_mult=[1, 2, 4], disc_ndf=8, disc_layers=2)


def _ir(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_build_generator_follows_the_config():
    assert type(build_generator(TINY)) is UNet
    assert type(build_generator(TINY.model_copy(update={"generator": "vqgan"}))) is VQModel
    assert type(build_generator(ModelConfig(ch=8, ch_mult=[1, 2]))) is VQModel  # the default


def test_forward_is_vqmodels_triple_without_a_codebook():
    torch.manual_seed(0)
    model = build_generator(TINY).eval()
    rec, qloss, info = model(_ir())
    assert rec.shape == (2, 3, 32, 32) and rec.dtype == torch.float32
    assert torch.isfinite(rec).all() and rec.std() > 0
    assert qloss.shape == () and qloss.dtype == torch.float32 and float(qloss) == 0.0
    assert info == {} and not model.has_codebook and VQModel.has_codebook
    assert model.last_layer is model.conv_out.weight
    with pytest.raises(ValueError, match="not a multiple of 4"):  # 2 downsampling steps
        model(_ir(size=30))
    # inference tiles and clamps it as the VQGAN's output: network range [-1, 1]
    out = translate_batch(model, _ir(1, 40).numpy(), tile=32)
    assert out.shape == (1, 3, 40, 40) and np.isfinite(out).all()
    assert out.min() >= -1 and out.max() <= 1


def test_structure_is_pix2pixs():
    """Stride-2 4x4 convs down, GroupNorm everywhere but the innermost level (no BatchNorm),
    decoder steps that take the concatenation (decoder, skip), a head on 2x the stem's width."""
    model = build_generator(ModelConfig(generator="unet", ch=8, ch_mult=[1, 2, 4, 8]))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert [d.conv.stride for d in model.down] == [(2, 2)] * 3
    assert [type(d.norm).__name__ for d in model.down] == ["GroupNorm", "GroupNorm", "Identity"]
    # up[i]: level i + 1 -> level i; all but the innermost read a concatenation
    assert [u.conv.in_channels for u in model.up] == [2 * 16, 2 * 32, 64]
    assert [u.conv.out_channels for u in model.up] == [8, 16, 32]
    assert model.conv_out.in_channels == 2 * 8
    # every encoder and decoder step is a region that train.compile=blocks compiles
    assert sum(isinstance(m, speed.REGIONS) for m in model.modules()) == 6


def _input_gradient(model: torch.nn.Module, y: int, x: int) -> torch.Tensor:
    """|d output[y, x] / d input|, summed over channels: where in the input a pixel looks."""
    ir = _ir(1).requires_grad_(True)
    rec, _, _ = model(ir)
    (grad,) = torch.autograd.grad(rec[0, :, y, x].sum(), ir, allow_unused=True)
    return torch.zeros(ir.shape[-2:]) if grad is None else grad[0].abs().sum(0)


def _cut(module: torch.nn.Module):
    """Everything ``module`` outputs replaced by zeros: the path through it carries nothing."""
    return module.register_forward_hook(lambda mod, args, out: torch.zeros_like(out))


def test_the_full_resolution_skip_carries_the_input():
    """With every level below full resolution cut off, an output pixel still depends on the
    input, and only within the 2 px that the stem's and the head's 3x3 convs reach: the input
    arrives through the full-resolution skip. An encoder-decoder without skips would not
    depend on its input at all here."""
    torch.manual_seed(0)
    model = build_generator(TINY).eval()
    whole = _input_gradient(model, 16, 16)
    assert (whole > 0).sum() > 25  # uncut, the pixel sees far beyond 5 x 5
    hook = _cut(model.down[0])
    try:
        grad = _input_gradient(model, 16, 16)
    finally:
        hook.remove()
    seen = grad > 0
    assert seen[16, 16] and seen.sum() > 1
    rows, cols = seen.nonzero().T
    assert (rows - 16).abs().max() <= 2 and (cols - 16).abs().max() <= 2


def test_every_scale_reaches_the_output_without_the_bottleneck():
    """Cutting the innermost level leaves the output depending on the input through the skips
    of the levels above it; cutting one level more takes that level's skip away too."""
    torch.manual_seed(0)
    model = build_generator(TINY).eval()
    reach = []
    for down in (model.down[-1], model.down[0]):
        hook = _cut(down)
        try:
            reach.append(int((_input_gradient(model, 16, 16) > 0).sum()))
        finally:
            hook.remove()
    assert reach[0] > reach[1] > 0  # the half-resolution skip sees further than the stem


def test_adaptive_weight_and_generator_step():
    """The trainer's generator step on the U-Net: the adaptive weight's probe reruns the real
    last layer (the same output as the forward), the GAN term is weighted, and no codebook
    metrics are made up."""
    torch.manual_seed(0)
    model, disc = build_generator(TINY).train(), build_discriminator(TINY)
    ir = _ir(4)
    batch = {"ir": ir, "vis": torch.tanh(ir.flip(1)), "mask": torch.ones(4, 1, 32, 32)}
    loss_fn = VQGANLoss(load_config(REPO / "configs" / "tiny.yaml").loss).train()
    step = loss_fn.cfg.disc_start
    loss, log, rec = generator_step(model, disc, loss_fn, batch, step)
    assert torch.allclose(model.head(model.last_layer), rec, atol=1e-6)
    assert float(log["train/d_weight"]) > 0 and float(log["train/quant_loss"]) == 0
    assert not any("perplexity" in k or "codebook" in k or "dead" in k for k in log)
    loss.backward()
    assert model.stem.weight.grad.abs().sum() > 0 and torch.isfinite(loss)


def test_export_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_generator(TINY)
    meta = {"config": {"model": TINY.model_dump(mode="json")}, "step": 3}
    save_export(tmp_path / "e", model.state_dict(), meta)
    loaded, got = load_generator(tmp_path / "e")
    assert type(loaded) is UNet and got["step"] == 3 and not loaded.training
    for name, w in model.state_dict().items():
        assert torch.equal(w, loaded.state_dict()[name]), name
    ir = _ir()
    assert torch.equal(model.eval()(ir)[0], loaded(ir)[0])


@pytest.mark.parametrize(
    "override,culprit",
    [
        ("model.generator=resnet", "model.generator"),
        ("model.generator=unet model.ch_mult=[1]", "model.generator=unet needs at least two"),
    ],
)
def test_bad_generator_fails_naming_the_key(override, culprit):
    with pytest.raises(ConfigError) as err:
        load_config(REPO / "configs" / "tiny.yaml", override.split())
    assert culprit in str(err.value) and "\n" not in str(err.value)


def test_unet_config_is_the_paper_config_with_another_generator():
    """configs/unet.yaml: the data, split, losses, optimiser and trainer of paper.yaml (the
    comparison is about the generator alone), the discriminator too, and pix2pix's unet_256."""
    paper, unet = (load_config(REPO / "configs" / name) for name in ("paper.yaml", "unet.yaml"))
    for section in ("data", "loss", "optim", "train"):
        assert getattr(unet, section) == getattr(paper, section), section
    assert all(
        getattr(unet.model, k) == getattr(paper.model, k)
        for k in ModelConfig.model_fields
        if k.startswith("disc_") or k in ("in_channels", "out_channels")
    )
    m = unet.model
    assert m.generator == "unet" and paper.model.generator == "vqgan"
    assert [m.ch * k for k in m.ch_mult[1:]] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert unet.data.patch_size % m.downsampling == 0 and m.downsampling == 256
    model = build_generator(m).eval()
    with torch.no_grad():
        rec, _, _ = model(torch.zeros(1, 3, 256, 256))
    assert rec.shape == (1, 3, 256, 256)
    raw = yaml.safe_load((REPO / "configs" / "unet.yaml").read_text())
    assert raw["model"]["generator"] == "unet"


@pytest.mark.slow
@pytest.mark.deepspeed
def test_the_trainer_trains_exports_and_evaluate_scores_the_unet(train_store, tmp_path):
    """The real trainer (DeepSpeed, gloo, one rank) trains a tiny U-Net with the GAN term on,
    exports it, the export loads as a U-Net and translates, and evaluate scores it beside the
    baselines on the store's held-out days."""
    run_dir = tmp_path / "unet"
    overrides = small_run(train_store, 2, "model.generator=unet", "model.ch_mult=[1,2,2]",
                          "model.dropout=0.5", "train.val_batches=1")  # fmt: skip
    proc = run_trainer(1, "none", overrides, run_dir)
    assert "perplexity" not in proc.stdout  # no codebook, so none is reported
    rows = read_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["train/rec_loss"]) and r["train/quant_loss"] == 0 for r in rows)
    assert rows[-1]["train/disc_loss"] > 0 and rows[-1]["train/d_weight"] > 0
    assert not any("perplexity" in k or "codebook" in k for r in rows for k in r)

    model, meta = load_generator(run_dir / "generator")
    assert type(model) is UNet and meta["step"] == 2
    assert meta["config"]["model"]["generator"] == "unet"
    assert all(w.dtype == torch.float32 for w in model.state_dict().values())
    translator = Translator.load(run_dir, "cpu")
    assert type(translator.model) is UNet
    bt = np.random.default_rng(0).uniform(200, 300, (1, 3, 40, 40)).astype(np.float32)
    rgb = translator.reflectance(bt)
    assert rgb.shape == (1, 3, 40, 40) and np.isfinite(rgb).all()

    cmd = [sys.executable, "-m", "hpc_vqvae.evaluate", "--checkpoint", str(run_dir),
           "--store", str(train_store), "--split", "val", "--format", "json"]  # fmt: skip
    ev = subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=600)
    assert ev.returncode == 0, ev.stderr[-3000:]
    report = json.loads(ev.stdout)
    for part in (report, report["baseline"]):
        assert {"ssim", "psnr", "rmse", "mae"} <= set(part)
        assert part["rmse"] > 0 and 0 < part["ssim"] <= 1
    assert report["scans"] > 0 and report["rmse"] != report["baseline"]["rmse"]
