"""IR bands -> latent grid. No skip connections leave it: everything the decoder gets passes
through the codebook, which is the point of the method."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import AttnBlock, Downsample, ResnetBlock, norm


class Encoder(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int,
        ch: int,
        ch_mult: list[int],
        num_res_blocks: int,
        z_channels: int,
        attention: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        levels, block_in = [], ch
        for i, mult in enumerate(ch_mult):
            blocks = []
            for _ in range(num_res_blocks):
                blocks.append(ResnetBlock(block_in, ch * mult, dropout))
                block_in = ch * mult
            if i != len(ch_mult) - 1:
                blocks.append(Downsample(block_in))
            levels.append(nn.Sequential(*blocks))
        self.down = nn.Sequential(*levels)
        self.mid = nn.Sequential(
            ResnetBlock(block_in, block_in, dropout),
            AttnBlock(block_in) if attention else nn.Identity(),
            ResnetBlock(block_in, block_in, dropout),
        )
        self.norm_out = norm(block_in)
        self.conv_out = nn.Conv2d(block_in, z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))
