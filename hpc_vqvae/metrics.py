"""Image metrics on the reflectance scale, per channel, scored only where the truth is valid
daytime: RMSE, MAE and PSNR over valid pixels, SSIM over windows whose pixels are all valid
(night crops and NaN fill never enter a score), LPIPS over crops that are valid throughout.
Every score takes its ``data_range`` (PSNR's peak, SSIM's constants, LPIPS's scaling) from the
space it scores in: 1 for plain reflectance factor, ``reflectance_max`` for a model's target.

``Scores`` accumulates them over batches and ranks as sums that reduce exactly: PSNR is the
mean of per-image values (``psnr``), with the value of the pooled MSE beside it
(``psnr_pooled``); SSIM is the mean over images of each image's mean over its valid windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data.config import CHANNELS
from .distributed import all_reduce_

WINDOW, SIGMA = 11, 1.5  # Wang et al. 2004's Gaussian window, as scikit-image's gaussian SSIM


def _gaussian(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum())[:, None] * (g / g.sum())[None, :]
    return g.expand(channels, 1, size, size).contiguous()


def ssim_map(
    x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0, window: int = WINDOW
) -> torch.Tensor:
    """SSIM of every window (Gaussian weights, population covariances), (B, C, H-w+1, W-w+1):
    the valid region, each value at its window's centre."""
    c = x.shape[1]
    w = _gaussian(window, SIGMA, c, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Per-channel SSIM over whole images, averaged over the batch: (C,). Differentiable, so it
    also serves as a loss term."""
    return ssim_map(x, y, data_range=data_range).mean(dim=(0, 2, 3))


def valid_windows(mask: torch.Tensor, window: int = WINDOW) -> torch.Tensor:
    """(B, 1, H-w+1, W-w+1): every pixel of the window is valid."""
    ones = torch.ones(1, 1, window, window, dtype=torch.float32, device=mask.device)
    return F.conv2d(mask.float(), ones) > window * window - 0.5


# Rows of the sums a Scores holds, per channel.
_SSE, _SAE, _PIXELS, _PSNR, _IMAGES, _SSIM, _SSIM_IMAGES, _LPIPS, _LPIPS_IMAGES = range(9)


class Scores:
    """Masked image metrics summed over batches; ``reduce`` adds them up over ranks."""

    def __init__(self, device: str | torch.device = "cpu", *, data_range: float = 1.0):
        self.sums = torch.zeros(9, len(CHANNELS), dtype=torch.float64, device=device)
        self.data_range = data_range

    @torch.no_grad()
    def update(
        self,
        pred: torch.Tensor,
        true: torch.Tensor,
        mask: torch.Tensor,
        lpips: torch.nn.Module | None = None,
        ssim: torch.Tensor | None = None,
        crop: int | None = None,
    ) -> None:
        """pred, true (B, C, H, W) reflectance; mask (B, 1, H, W): valid daytime truth.
        ``ssim``: their ``ssim_map``, when one scoring of several masks computed it once (its
        valid windows do not depend on what lies outside them). LPIPS is scored on the
        ``crop`` x ``crop`` tiles that are valid throughout (the training crops' size; whole
        images if None): a whole scan is rarely all daytime, and one that is sits at noon."""
        valid = mask.bool().expand_as(pred)
        pred = torch.where(valid, pred.float(), 0.0)  # NaN fill outside the mask stays out
        true = torch.where(valid, true.float(), 0.0)
        m = valid.float()
        err = pred - true
        n = m.sum(dim=(2, 3))  # (B, C)
        sse, sae = (err**2).sum(dim=(2, 3)), err.abs().sum(dim=(2, 3))
        s = self.sums
        s[_SSE] += sse.sum(0).double()
        s[_SAE] += sae.sum(0).double()
        s[_PIXELS] += n.sum(0).double()
        seen = n > 0
        mse = sse / n.clamp(min=1)
        psnr = 10 * torch.log10(self.data_range**2 / mse.clamp(min=1e-12))
        s[_PSNR] += torch.where(seen, psnr, 0).sum(0).double()
        s[_IMAGES] += seen.sum(0).double()
        if min(pred.shape[-2:]) >= WINDOW:
            win = valid_windows(mask).expand(-1, pred.shape[1], -1, -1).float()
            count = win.sum(dim=(2, 3))
            if ssim is None:
                ssim = ssim_map(pred, true, data_range=self.data_range)
            per_image = (ssim.nan_to_num() * win).sum(dim=(2, 3)) / count.clamp(min=1)
            s[_SSIM] += torch.where(count > 0, per_image, 0).sum(0).double()
            s[_SSIM_IMAGES] += (count > 0).sum(0).double()
        if lpips is not None:
            a, b = _whole_crops(pred, mask, crop), _whole_crops(true, mask, crop)
            if len(a):  # LPIPS sees [-1, 1]: 2 r / data_range - 1, as the training loss does
                d = lpips(2 * a / self.data_range - 1, 2 * b / self.data_range - 1)
                s[_LPIPS] += d.sum().double()
                s[_LPIPS_IMAGES] += float(len(a))

    def reduce(self) -> Scores:
        """Collective: every rank calls it once, after its last update."""
        all_reduce_(self.sums)
        return self

    def result(self, prefix: str = "") -> dict[str, float]:
        """Channel means (``rmse``) and per channel (``rmse_R``); LPIPS when measured."""
        s = self.sums
        out: dict[str, float] = {}
        for name, values in from_sums(s, self.data_range).items():
            if name == "lpips":
                if float(s[_LPIPS_IMAGES, 0]) > 0:
                    out[f"{prefix}lpips"] = float(values)
                continue
            out[f"{prefix}{name}"] = float(values.mean())
            out.update(
                {f"{prefix}{name}_{c}": float(v) for c, v in zip(CHANNELS, values, strict=True)}
            )
        out[f"{prefix}pixels"] = float(s[_PIXELS, 0])
        out[f"{prefix}images"] = float(s[_IMAGES, 0])
        return out


def from_sums(s: torch.Tensor, data_range: float) -> dict[str, torch.Tensor]:
    """The metrics of ``Scores`` sums (..., 9, C): per channel (..., C), LPIPS (...,) (NaN
    where no crop was scored). The one home of the formulas: a result, and every resample of a
    bootstrap over days, which adds up days' sums."""
    mse = s[..., _SSE, :] / s[..., _PIXELS, :].clamp(min=1)
    lpips_n = s[..., _LPIPS_IMAGES, 0]
    return {
        "rmse": mse.sqrt(),
        "mae": s[..., _SAE, :] / s[..., _PIXELS, :].clamp(min=1),
        "psnr": s[..., _PSNR, :] / s[..., _IMAGES, :].clamp(min=1),
        "psnr_pooled": 10 * torch.log10(data_range**2 / mse.clamp(min=1e-12)),
        "ssim": s[..., _SSIM, :] / s[..., _SSIM_IMAGES, :].clamp(min=1),
        "lpips": torch.where(lpips_n > 0, s[..., _LPIPS, 0] / lpips_n.clamp(min=1), torch.nan),
    }


def _whole_crops(x: torch.Tensor, mask: torch.Tensor, size: int | None) -> torch.Tensor:
    """(N, C, size, size): the non-overlapping tiles of ``x`` (B, C, H, W) whose ``mask``
    (B, 1, H, W) is true throughout; whole images when ``size`` is None."""
    if size is None:
        return x[mask.flatten(1).bool().all(1)]
    b, c, h, w = x.shape
    nh, nw = h // size, w // size

    def tiles(t: torch.Tensor) -> torch.Tensor:
        t = t[..., : nh * size, : nw * size].unfold(2, size, size).unfold(3, size, size)
        return t.permute(0, 2, 3, 1, 4, 5).reshape(-1, t.shape[1], size, size)

    keep = tiles(mask.bool()).flatten(1).all(1)
    return tiles(x)[keep]
