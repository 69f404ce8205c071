"""Validation on held-out days: SSIM, PSNR, RMSE, MAE on the reflectance scale, reduced over
ranks, and a sample grid (IR input | generated | real visible) for the tracker."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.config import CHANNELS
from ..distributed import all_reduce_
from ..metrics import ssim


@torch.no_grad()
def validate(g_engine, loader, normalizer, max_batches: int, device: str) -> tuple[dict, dict]:
    """(metrics, first batch for a sample grid). Collective: every rank runs the same number of
    batches (a ZeRO-3 forward gathers parameters from all ranks)."""
    n = torch.tensor([min(len(loader), max_batches)], device=device)
    n_batches = int(all_reduce_(n, "min").item())
    sums = torch.zeros(4, 3, dtype=torch.float64, device=device)  # sse, sae, pixels, ssim*images
    images, first = 0, {}
    g_engine.eval()
    for i, batch in zip(range(n_batches), loader, strict=False):
        ir, vis, mask = (batch[k].to(device) for k in ("ir", "vis", "mask"))
        rec, _, _ = g_engine(ir.to(next(g_engine.module.parameters()).dtype))
        pred = normalizer.vis_to_reflectance(rec.float().clamp(-1, 1))
        true = normalizer.vis_to_reflectance(vis.float())
        m = mask.expand_as(pred)
        err = (pred - true) * m
        sums[0] += (err**2).sum(dim=(0, 2, 3)).double()
        sums[1] += err.abs().sum(dim=(0, 2, 3)).double()
        sums[2] += m.sum(dim=(0, 2, 3)).double()
        sums[3] += ssim(pred, true).double() * len(ir)
        images += len(ir)
        if i == 0:
            first = {
                "ir": ir[:4].cpu(),
                "rec": pred[:4].cpu(),
                "vis": true[:4].cpu(),
                "mask": mask[:4].cpu(),
            }
    g_engine.train()
    all_reduce_(sums)
    images = int(all_reduce_(torch.tensor([images], device=device)).item())
    mse = sums[0] / sums[2].clamp(min=1)
    per = {
        "rmse": mse.sqrt(),
        "mae": sums[1] / sums[2].clamp(min=1),
        "psnr": 10 * torch.log10(1.0 / mse.clamp(min=1e-12)),
        "ssim": sums[3] / max(images, 1),
    }
    out = {}
    for name, values in per.items():
        out[f"val/{name}"] = float(values.mean())
        out.update({f"val/{name}_{c}": float(v) for c, v in zip(CHANNELS, values, strict=True)})
    return out, first


def sample_grid(first: dict, folder: Path, step: int) -> Path:
    """A PNG: one row per sample, columns IR input (first band) | generated | real visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(first["ir"])
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, 2.5 * rows), squeeze=False)

    def rgb(t: torch.Tensor, r: int):
        return t[r].permute(1, 2, 0).clamp(0, 1).numpy() ** 0.5  # gamma, for the eye

    for r in range(rows):
        axes[r, 0].imshow(-first["ir"][r, 0].numpy(), cmap="gray")  # cold clouds white
        axes[r, 1].imshow(rgb(first["rec"], r))
        axes[r, 2].imshow(rgb(first["vis"], r))
        for ax in axes[r]:
            ax.set_axis_off()
    for ax, title in zip(axes[0], ("IR input", "generated", "real visible"), strict=True):
        ax.set_title(title)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:08d}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
