"""Latent grid -> visible RGB, the encoder's mirror (one more ResNet block per level)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import AttnBlock, ResnetBlock, Upsample, norm


class Decoder(nn.Module):
    def __init__(
        self,
        *,
        out_channels: int,
        ch: int,
        ch_mult: list[int],
        num_res_blocks: int,
        z_channels: int,
        attention: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = nn.Sequential(
            ResnetBlock(block_in, block_in, dropout),
            AttnBlock(block_in) if attention else nn.Identity(),
            ResnetBlock(block_in, block_in, dropout),
        )
        levels = []
        for i in reversed(range(len(ch_mult))):
            blocks = []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, ch * ch_mult[i], dropout))
                block_in = ch * ch_mult[i]
            if i != 0:
                blocks.append(Upsample(block_in))
            levels.append(nn.Sequential(*blocks))
        self.up = nn.Sequential(*levels)
        self.norm_out = norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_channels, 3, padding=1)

    @property
    def last_layer(self) -> nn.Parameter:
        """The weight the adaptive GAN weight is measured on (taming's choice)."""
        return self.conv_out.weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm_out(self.up(self.mid(self.conv_in(z)))))
        self.head_input = h.detach()  # what the last layer saw: the adaptive weight's probe
        return self.conv_out(h)

    def head(self, weight: torch.Tensor) -> torch.Tensor:
        """The last layer again, on the last forward's input, with ``weight`` in place of its
        own: d(loss)/d(weight) here is d(loss)/d(last layer) of that forward, computed on a
        separate graph (no engine's backward hooks fire on it)."""
        x = self.head_input.to(weight.dtype)
        return F.conv2d(x, weight, self.conv_out.bias.detach().to(weight.dtype), padding=1)
