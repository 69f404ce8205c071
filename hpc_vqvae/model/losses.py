"""VQGAN losses (taming-transformers' VQLPIPSWithDiscriminator, split for two engines).

Both methods return ``(loss, log)``, log keys like ``train/rec_loss`` going straight to the
tracker. The discriminator lives in its own module: the caller runs it and passes logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..metrics import ssim
from .config import LossConfig
from .lpips import LPIPS


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def masked_mean(v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return v.mean()
    m = mask.expand_as(v)
    return (v * m).sum() / m.sum().clamp(min=1)


def adaptive_weight(
    rec_loss: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor
) -> torch.Tensor:
    """||d rec / d W|| / ||d adv / d W|| on the decoder's last layer: keeps the adversarial
    gradient on the scale of the reconstruction gradient (Esser et al. 2021)."""
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()


@dataclass
class AdaptiveProbe:
    """What the adaptive weight needs: the last layer's weight, a way to re-run the last layer
    with a stand-in weight (``Decoder.head``), and the (frozen) discriminator's verdict."""

    weight: torch.Tensor
    head: Callable[[torch.Tensor], torch.Tensor]
    judge: Callable[[torch.Tensor], torch.Tensor]


class VQGANLoss(nn.Module):
    def __init__(self, cfg: LossConfig):
        super().__init__()
        self.cfg = cfg
        self.lpips = LPIPS.from_file(cfg.lpips_weights) if cfg.lpips_weight > 0 else None

    def disc_factor(self, step: int) -> float:
        return self.cfg.disc_factor if step >= self.cfg.disc_start else 0.0

    def reconstruction(self, target, rec, mask) -> tuple[torch.Tensor, dict]:
        diff = (rec - target).abs() if self.cfg.rec == "l1" else (rec - target) ** 2
        loss = masked_mean(diff, mask)
        parts = {"rec_loss": loss.detach()}
        if self.cfg.ssim_weight > 0:  # on [0, 1]: SSIM's constants assume a known data range
            s = ssim((rec + 1) / 2, (target + 1) / 2).mean()
            loss = loss + self.cfg.ssim_weight * (1 - s)
            parts["ssim_loss"] = (1 - s).detach()
        if self.lpips is not None:
            p = self.lpips(rec.float(), target.float()).mean()
            loss = loss + self.cfg.lpips_weight * p
            parts["p_loss"] = p.detach()
        return loss, parts

    def generator(
        self,
        *,
        target: torch.Tensor,
        rec: torch.Tensor,
        qloss: torch.Tensor,
        logits_fake: torch.Tensor | None,
        probe: AdaptiveProbe | None,
        step: int,
        mask: torch.Tensor | None = None,
        split: str = "train",
    ) -> tuple[torch.Tensor, dict]:
        """Reconstruction + codebook terms, plus the adversarial term once ``step >= disc_start``
        (``logits_fake``: the discriminator's verdict on ``rec``, through a frozen D), weighted
        adaptively when a ``probe`` is given."""
        nll, parts = self.reconstruction(target, rec, mask)
        factor = self.disc_factor(step)
        g_loss = (
            -logits_fake.mean() if logits_fake is not None else torch.zeros((), device=rec.device)
        )
        d_weight = torch.zeros((), device=rec.device)
        if factor > 0 and logits_fake is not None:
            if self.cfg.adaptive_weight and self.training and probe is not None:
                d_weight = self.probe_weight(probe, target, mask) * self.cfg.disc_weight
            else:
                d_weight = torch.tensor(self.cfg.disc_weight, device=rec.device)
        loss = nll + d_weight * factor * g_loss + self.cfg.codebook_weight * qloss.mean()
        log = {
            **parts,
            "quant_loss": qloss.detach().mean(),
            "nll_loss": nll.detach(),
            "g_loss": g_loss.detach(),
            "d_weight": d_weight.detach(),
            "disc_factor": torch.tensor(factor),
            "total_loss": loss.detach(),
        }
        return loss, {f"{split}/{k}": v for k, v in log.items()}

    def probe_weight(self, probe: AdaptiveProbe, target, mask) -> torch.Tensor:
        """The adaptive weight from the probe: the same gradients w.r.t. the last layer as the
        real graph has, on a graph of its own (engines' backward hooks never see it)."""
        weight = probe.weight.detach().float().requires_grad_(True)
        rec = probe.head(weight)
        nll, _ = self.reconstruction(target.float(), rec, mask)
        g_loss = -probe.judge(rec).float().mean()
        return adaptive_weight(nll, g_loss, weight)

    def discriminator(
        self,
        *,
        logits_real: torch.Tensor,
        logits_fake: torch.Tensor,
        step: int,
        split: str = "train",
    ) -> tuple[torch.Tensor, dict]:
        """Hinge loss, times 0 before ``disc_start`` (the caller may skip the step then)."""
        factor = self.disc_factor(step)
        d_loss = factor * hinge_d_loss(logits_real, logits_fake)
        log = {
            "disc_loss": d_loss.detach(),
            "logits_real": logits_real.detach().mean(),
            "logits_fake": logits_fake.detach().mean(),
        }
        return d_loss, {f"{split}/{k}": v for k, v in log.items()}
