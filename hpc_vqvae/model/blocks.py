"""Building blocks of the encoder and decoder (the taming-transformers design, skip-free)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# GroupNorm's fewest channels a group. Models exported before 2026-12-07 had 1 (recorded in
# their exports by its absence: model/exported.py regroups them).
GROUP_CHANNELS = 4


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm as taming's: 32 groups at its widths (128-512 channels, 4-16 a group). A
    narrower model keeps at least 4 channels a group (tiny.yaml's 32 channels: 8 groups).
    With one channel a group it is instance norm, which erases the level of a flat crop: the
    temperature of a uniform cloud deck, all there is to tell that cloud's brightness by. The
    tiny model could then not reproduce even a cloud it trained on (benchmarks/leak.py)."""
    return nn.GroupNorm(groups(channels), channels, eps=1e-6, affine=True)


def groups(channels: int, group_channels: int = GROUP_CHANNELS) -> int:
    """Up to 32 groups that divide ``channels``, each of at least ``group_channels``."""
    return next(
        g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0 and channels // g >= group_channels
    )


def regroup(model: nn.Module, group_channels: int) -> None:
    """Every GroupNorm of ``model`` as ``norm`` made it under another ``group_channels``
    (the weights are per channel, so they fit either way)."""
    for m in model.modules():
        if isinstance(m, nn.GroupNorm):
            m.num_groups = groups(m.num_channels, group_channels)


class ResnetBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2, self.conv2 = norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions (used at the lowest resolution only)."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm = norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # (b, hw, c)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # asymmetric pad: exact halving


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
