"""Validation on held-out days: masked SSIM, PSNR, RMSE, MAE (and LPIPS when its weights are
configured) on the reflectance scale over a stratified sample of the whole validation block,
with codebook perplexity and usage on the same data (a generator with a codebook), reduced over
ranks; and a sample grid (IR input | generated | real visible) for the tracker."""

from __future__ import annotations

from pathlib import Path

import torch

from ..distributed import all_reduce_
from ..metrics import Scores
from ..model.quantizer import perplexity


@torch.no_grad()
def validate(g_engine, loader, transform, device: str, lpips=None) -> tuple[dict, dict]:
    """(metrics, first batch for a sample grid and every code's count, if the generator has a
    codebook) over the whole of ``loader``: the validation crops, spread over every day and
    hour of the block (``make_loader(limit=...)``), each rank holding every world_size-th of
    them. Every crop is scored exactly once over all ranks, whether or not the shares are even;
    ``val/crops`` says how many were.

    ``g_engine``: a DeepSpeed engine (or the bare model). Collective: every rank makes as many
    forwards as the rank with the most batches (a ZeRO-3 forward gathers parameters from all
    ranks); a rank whose share ran out makes its extra forwards on an idle input and scores
    nothing from them, rather than the longer ranks dropping their last crops."""
    module = getattr(g_engine, "module", g_engine)
    n_batches = int(all_reduce_(torch.tensor([len(loader)], device=device), "max").item())
    codes = None  # a U-Net has no codes to count
    if module.has_codebook:
        codes = torch.zeros(module.cfg.codebook_size, dtype=torch.float64, device=device)
    crops = torch.zeros(1, dtype=torch.float64, device=device)
    # LPIPS and PSNR on the target's own range, as the training loss and evaluate see it
    scores, first = Scores(device, data_range=transform.cfg.reflectance_max), {}
    dtype = next(module.parameters()).dtype
    g_engine.eval()
    batches = iter(loader)
    for i in range(n_batches):
        batch = next(batches, None)
        if batch is None:  # this rank's share is done: a forward for the collective only
            g_engine(_idle_input(loader, module, device, dtype))
            continue
        ir, vis, mask = (batch[k].to(device) for k in ("ir", "vis", "mask"))
        rec, _, info = g_engine(ir.to(dtype))
        pred = transform.reflectance(rec.float().clamp(-1, 1))
        true = transform.reflectance(vis.float())
        scores.update(pred, true, mask, lpips)
        if codes is not None:
            codes += torch.bincount(info["indices"].flatten(), minlength=len(codes)).double()
        crops += len(ir)
        if i == 0:
            first = {
                "ir": ir[:4].cpu(),
                "rec": pred[:4].cpu(),
                "vis": true[:4].cpu(),
                "mask": mask[:4].cpu(),
            }
    g_engine.train()
    out = scores.reduce().result("val/")
    out["val/crops"] = float(all_reduce_(crops).item())
    if codes is not None:
        all_reduce_(codes)
        out["val/perplexity"] = float(perplexity(codes))
        out["val/codebook_usage"] = float((codes > 0).double().mean())
        first["code_counts"] = codes.cpu()
    return out, first


def _idle_input(loader, module, device: str, dtype: torch.dtype) -> torch.Tensor:
    """One blank crop of the loader's size: what a rank whose share ran out forwards."""
    p = loader.dataset.cfg.patch_size
    return torch.zeros(1, module.cfg.in_channels, p, p, device=device, dtype=dtype)


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


def usage_plot(counts: torch.Tensor, folder: Path, step: int) -> Path:
    """A PNG of the codebook's use on the validation crops: each code's share, most used
    first, on a log scale (a collapsing codebook shows as a short head and a long zero tail)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    share = (counts / counts.sum().clamp(min=1)).sort(descending=True).values.numpy()
    used = int((counts > 0).sum())
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(range(len(share)), share, width=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("code, by use")
    ax.set_ylabel("share of validation tokens")
    ax.set_title(f"step {step}: {used} of {len(share)} codes used")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"codebook_step_{step:08d}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
