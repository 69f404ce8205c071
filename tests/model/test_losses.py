import math

import pytest
import torch

from hpc_vqvae.model import LossConfig, VQGANLoss, adaptive_weight, hinge_d_loss


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


def _inputs():
    torch.manual_seed(0)
    last = torch.randn(3, 4, requires_grad=True)
    rec = torch.tanh(torch.randn(2, 3, 8, 8) + last.sum())  # depends on the last layer
    target = torch.rand(2, 3, 8, 8) * 2 - 1
    logits = rec.mean(dim=1, keepdim=True) * 2 + last.mean()
    return last, rec, target, logits


def test_disc_start_gates_adversarial_terms():
    loss_fn = VQGANLoss(LossConfig(disc_start=100, disc_weight=0.2)).train()
    last, rec, target, logits = _inputs()
    q = torch.tensor(0.5)
    before, log_b = loss_fn.generator(
        target=target, rec=rec, qloss=q, logits_fake=logits, last_layer=last, step=99
    )
    after, log_a = loss_fn.generator(
        target=target, rec=rec, qloss=q, logits_fake=logits, last_layer=last, step=100
    )
    assert float(log_b["train/d_weight"]) == 0.0 and float(log_b["train/disc_factor"]) == 0.0
    assert math.isclose(float(before.detach()), float(log_b["train/rec_loss"]) + 0.5, rel_tol=1e-6)
    assert float(log_a["train/d_weight"]) > 0
    expected = (
        float(log_a["train/nll_loss"])
        + float(log_a["train/d_weight"]) * float(log_a["train/g_loss"])
        + 0.5
    )
    assert math.isclose(float(after.detach()), expected, rel_tol=1e-5)
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
        last_layer=None,
        step=0,
        mask=mask,
        split="val",
    )
    assert float(loss) == 0.0 and set(log) >= {"val/rec_loss", "val/g_loss", "val/d_weight"}


def test_ssim_term_and_lpips_needs_local_file(tmp_path):
    loss_fn = VQGANLoss(LossConfig(ssim_weight=1.0))
    t = torch.rand(1, 3, 16, 16) * 2 - 1
    _, log = loss_fn.generator(
        target=t, rec=t.clone(), qloss=torch.tensor(0.0), logits_fake=None, last_layer=None, step=0
    )
    assert float(log["train/ssim_loss"]) < 1e-5
    with pytest.raises(ValueError, match="local weight file"):
        LossConfig(lpips_weight=1.0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        VQGANLoss(LossConfig(lpips_weight=1.0, lpips_weights=tmp_path / "missing.pt"))
