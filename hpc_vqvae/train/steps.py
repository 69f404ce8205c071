"""One generator step and one discriminator step, engine-agnostic: the plain PyTorch loop in
the tests and the DeepSpeed engines both call these, so the GAN logic lives in one place."""

from __future__ import annotations

import torch
from torch import nn

from ..model.generator import Generator
from ..model.losses import AdaptiveProbe, VQGANLoss


def _unwrap(module: nn.Module) -> nn.Module:
    """The user's module inside a DeepSpeed engine (or the module itself)."""
    return getattr(module, "module", module)


def _dtype(module: nn.Module) -> torch.dtype:
    """The engine's compute dtype (bf16 engines want bf16 inputs)."""
    return next(_unwrap(module).parameters()).dtype


def generator_step(
    model: Generator, disc: nn.Module, loss_fn: VQGANLoss, batch: dict, step: int
) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """(loss, log, reconstruction detached). D is frozen while G is judged: with ZeRO, a
    gradient reaching D here is "computed twice" or leaks into D's step."""
    ir, vis, mask = batch["ir"], batch["vis"], batch.get("mask")
    rec, qloss, info = model(ir.to(_dtype(model)))
    logits_fake, probe = None, None
    if loss_fn.disc_factor(step) > 0:
        disc.requires_grad_(False)
        dt = _dtype(disc)
        cond = ir.to(dt) if _unwrap(disc).cond_channels else None
        # The bare module, not the engine: an engine's forward hooks would run D's backward
        # epilogue inside G's backward.
        logits_fake = _unwrap(disc)(rec.to(dt), cond)
        generator = _unwrap(model)
        probe = AdaptiveProbe(
            weight=generator.last_layer,
            head=generator.head,
            judge=lambda r: _unwrap(disc)(r.to(dt), cond),
        )
    loss, log = loss_fn.generator(
        target=vis, rec=rec, qloss=qloss, logits_fake=logits_fake, probe=probe, step=step, mask=mask
    )
    if _unwrap(model).has_codebook:  # the VQGAN's; the U-Net has none to report
        log["train/perplexity"] = info["perplexity"]
        log["train/codebook_usage"] = info["usage"]
        log["train/dead_codes"] = info["dead_codes"]
    return loss, log, rec.detach()


def discriminator_step(
    disc: nn.Module, loss_fn: VQGANLoss, batch: dict, rec: torch.Tensor, step: int
) -> tuple[torch.Tensor, dict]:
    """Real and fake through D in ONE forward (concatenated): DeepSpeed has had silent
    wrong-gradient bugs with a module used twice in a step."""
    disc.requires_grad_(True)
    ir, vis = batch["ir"], batch["vis"]
    dt = _dtype(disc)
    cond = torch.cat([ir, ir]).to(dt) if _unwrap(disc).cond_channels else None
    logits = disc(torch.cat([vis.to(dt), rec.to(dt)]), cond)
    real, fake = logits.chunk(2)
    return loss_fn.discriminator(logits_real=real, logits_fake=fake, step=step)


def train_step(g, d, loss_fn: VQGANLoss, batch: dict, step: int) -> dict:
    """One update of each engine on one batch: G, then D once the GAN is on (``disc_start``).
    The loop and the GPU benchmark both call this."""
    g.train()
    loss, log, rec = generator_step(g, d, loss_fn, batch, step)
    g.backward(loss)
    g.step()
    if loss_fn.disc_factor(step) > 0:
        d_loss, d_log = discriminator_step(d, loss_fn, batch, rec, step)
        d.backward(d_loss)
        d.step()
        log.update(d_log)
    return log
