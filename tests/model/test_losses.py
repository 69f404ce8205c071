import math

import pytest
import torch

from hpc_vqvae.model import (
    LossConfig,
    ModelConfig,
    VQGANLoss,
    VQModel,
    adaptive_weight,
    build_discriminator,
    hinge_d_loss,
)
from hpc_vqvae.model.losses import AdaptiveProbe


def test_hinge():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert math.isclose(float(hinge_d_loss(real, fake)), 0.5 * (0.25 + 0.5))


def test_adaptive_weight_is_gradient_norm_ratio():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    rec = (3.0 * w).sum()  # grad (3, 3)
    adv = (w**2).sum()  # grad (2, 4)
    expected = math.sqrt(18) / (math.sqrt(20) + 1e-4)
    assert math.isclose(float(adaptive_weight(rec, adv, w)), expected, rel_tol=1e-6)


def _setup():
    torch.manual_seed(0)
    cfg = ModelConfig(
        ch=16,
        ch_mult=[1, 2],
        num_res_blocks=1,
        z_channels=8,
        codebook_size=16,
        embed_dim=8,
        disc_ndf=8,
        disc_layers=2,
        kmeans_init=False,
    )
    model, disc = VQModel(cfg).train(), build_discriminator(cfg)
    ir, target = torch.randn(2, 3, 16, 16), torch.rand(2, 3, 16, 16) * 2 - 1
    return model, disc, ir, target


def test_probe_gives_the_true_adaptive_weight():
    """The probe (a separate graph, safe under engines) equals differentiating the real graph."""
    model, disc, ir, target = _setup()
    loss_fn = VQGANLoss(LossConfig(disc_weight=1.0)).train()
    rec, _, _ = model(ir)
    nll, _ = loss_fn.reconstruction(target, rec, None)
    g_loss = -disc(rec, ir).mean()
    direct = adaptive_weight(nll, g_loss, model.last_layer)
    probe = AdaptiveProbe(model.last_layer, model.decoder.head, lambda r: disc(r, ir))
    assert torch.allclose(loss_fn.probe_weight(probe, target, None), direct, rtol=1e-4)


def test_disc_start_gates_adversarial_terms():
    model, disc, ir, target = _setup()
    loss_fn = VQGANLoss(LossConfig(disc_start=100, disc_weight=0.2)).train()
    rec, _, _ = model(ir)
    logits = disc(rec, ir)
    probe = AdaptiveProbe(model.last_layer, model.decoder.head, lambda r: disc(r, ir))
    q = torch.tensor(0.5)
    kw = {"target": target, "rec": rec, "qloss": q, "logits_fake": logits, "probe": probe}
    before, log_b = loss_fn.generator(**kw, step=99)
    after, log_a = loss_fn.generator(**kw, step=100)
    assert float(log_b["train/d_weight"]) == 0.0 and float(log_b["train/disc_factor"]) == 0.0
    assert math.isclose(float(before.detach()), float(log_b["train/rec_loss"]) + 0.5, rel_tol=1e-6)
    assert float(log_a["train/d_weight"]) > 0
    nll, w, g = (float(log_a[f"train/{k}"]) for k in ("nll_loss", "d_weight", "g_loss"))
    assert math.isclose(float(after.detach()), nll + w * g + 0.5, rel_tol=1e-5)
    d0, _ = loss_fn.discriminator(logits_real=logits, logits_fake=-logits, step=99)
    d1, log_d = loss_fn.discriminator(logits_real=logits, logits_fake=-logits, step=100)
    assert float(d0) == 0.0 and float(d1.detach()) > 0 and "train/disc_loss" in log_d


def test_masked_reconstruction_ignores_masked_pixels():
    loss_fn = VQGANLoss(LossConfig())
    target = torch.zeros(1, 3, 4, 4)
    rec = torch.zeros(1, 3, 4, 4)
    rec[..., 0, 0] = 100.0
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 0, 0] = 0
    loss, log = loss_fn.generator(
        target=target,
        rec=rec,
        qloss=torch.tensor(0.0),
        logits_fake=None,
        probe=None,
        step=0,
        mask=mask,
        split="val",
    )
    assert float(loss) == 0.0 and set(log) >= {"val/rec_loss", "val/g_loss", "val/d_weight"}


def test_ssim_term_and_lpips_needs_local_file(tmp_path):
    loss_fn = VQGANLoss(LossConfig(ssim_weight=1.0))
    t = torch.rand(1, 3, 16, 16) * 2 - 1
    _, log = loss_fn.generator(
        target=t, rec=t.clone(), qloss=torch.tensor(0.0), logits_fake=None, probe=None, step=0
    )
    assert float(log["train/ssim_loss"]) < 1e-5
    with pytest.raises(ValueError, match="local weight file"):
        LossConfig(lpips_weight=1.0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        VQGANLoss(LossConfig(lpips_weight=1.0, lpips_weights=tmp_path / "missing.pt"))
