"""PatchGAN discriminator (pix2pix / taming), conditional on the IR input by default (CGAN, as
in the reference paper): it judges (IR, visible) pairs, not visible images alone."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import norm as group_norm


def _norm(kind: str, ch: int) -> nn.Module:
    # Real and fake go through in ONE forward (see train/): batch statistics would mix them, so
    # the default normalises per sample (GroupNorm), not per batch.
    return {
        "group": lambda: group_norm(ch),
        "batch": lambda: nn.BatchNorm2d(ch),
        "none": nn.Identity,
    }[kind]()


class PatchDiscriminator(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int = 3,
        cond_channels: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "group",
    ):
        super().__init__()
        self.cond_channels = cond_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels + cond_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=norm == "none"),
                _norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, vis: torch.Tensor, ir: torch.Tensor | None = None) -> torch.Tensor:
        """Patch logits (B, 1, h, w); ``ir`` is required iff the discriminator is conditional."""
        if self.cond_channels:
            if ir is None:
                raise ValueError("a conditional discriminator needs the IR input")
            vis = torch.cat([ir.to(vis.dtype), vis], dim=1)
        return self.net(vis)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Conv2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
