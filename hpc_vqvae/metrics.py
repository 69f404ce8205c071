"""Image metrics on the reflectance scale, per channel and mean: SSIM, PSNR, RMSE, MAE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data.config import CHANNELS


def _gaussian(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum())[:, None] * (g / g.sum())[None, :]
    return g.expand(channels, 1, size, size).contiguous()


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Per-channel SSIM (Wang et al. 2004; Gaussian window, valid region), averaged over the
    batch: shape (C,). Differentiable, so it also serves as a loss term."""
    c = x.shape[1]
    w = _gaussian(window, sigma, c, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(0, 2, 3))


def _masked_mean(v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return v.mean(dim=(0, 2, 3))
    m = mask.expand_as(v)
    return (v * m).sum(dim=(0, 2, 3)) / m.sum(dim=(0, 2, 3)).clamp(min=1)


def rmse(x, y, mask=None) -> torch.Tensor:
    return _masked_mean((x - y) ** 2, mask).sqrt()


def mae(x, y, mask=None) -> torch.Tensor:
    return _masked_mean((x - y).abs(), mask)


def psnr(x, y, mask=None, *, data_range: float = 1.0) -> torch.Tensor:
    return 10 * torch.log10(data_range**2 / _masked_mean((x - y) ** 2, mask).clamp(min=1e-12))


@torch.no_grad()
def image_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    prefix: str = "val/",
    data_range: float = 1.0,
) -> dict[str, float]:
    """All metrics, per channel (``val/rmse_R``) and channel mean (``val/rmse``), as floats.
    RMSE, MAE and PSNR count only masked pixels; SSIM sees the whole patch."""
    pred, target = pred.float(), target.float()
    out = {}
    values = {
        "ssim": ssim(pred, target, data_range=data_range),
        "psnr": psnr(pred, target, mask, data_range=data_range),
        "rmse": rmse(pred, target, mask),
        "mae": mae(pred, target, mask),
    }
    for name, per_channel in values.items():
        out[f"{prefix}{name}"] = float(per_channel.mean())
        for ch, v in zip(CHANNELS, per_channel, strict=False):
            out[f"{prefix}{name}_{ch}"] = float(v)
    return out
