"""The U-Net baseline: a pix2pix-style generator (Isola et al. 2017; the AI-VIS method) with
skip connections and no codebook, so that the trainer, the discriminator, the split and the
losses being the VQGAN's, evaluate's table answers whether the discrete bottleneck helps.

pix2pix's U-Net, with these departures, and why:

- GroupNorm (per sample) instead of BatchNorm: batch statistics differ with the batch per GPU
  and the number of ranks, are wrong at batch 1 (pix2pix trains at batch 1 with instance-like
  statistics), and would have to be synchronised across ranks; GroupNorm gives every sample the
  same computation on 1 GPU or 64, under any ZeRO stage, in training and in evaluation (the
  VQGAN's blocks and the PatchGAN use it for the same reasons);
- a full-resolution 3x3 stem whose features are the outermost skip (pix2pix's first layer is
  already a stride-2 conv): the head sees the input's own scale, as the VQGAN decoder's last
  layer works at full resolution;
- decoder steps of nearest-neighbour upsampling then a 3x3 conv (pix2pix: 4x4 transposed conv
  at stride 2), which avoids checkerboard artefacts and matches the VQGAN decoder's upsampling;
- an unbounded output (pix2pix: tanh), like the VQGAN decoder's: both are clamped to [-1, 1]
  the same way by validation and ``translate_batch``, so the two models differ only in what
  the table is about;
- depth from ``ch_mult``: ``len(ch_mult) - 1`` stride-2 steps, so ``ModelConfig.downsampling``
  and the crop-size rule hold unchanged (pix2pix's unet_256 is 8 steps to 1 x 1:
  ``configs/unet.yaml``); ``dropout`` in the decoder's three lowest levels, as pix2pix's 0.5
  there (off in eval mode: predictions are deterministic).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import norm
from .config import ModelConfig

DROPOUT_LEVELS = 3  # pix2pix: dropout in the three innermost decoder steps


class Down(nn.Module):
    """One encoder step: LeakyReLU(0.2), 4 x 4 conv at stride 2 (exact halving of an even
    size), GroupNorm (none at the innermost level, as pix2pix: a bottleneck of 1 x 1 has no
    spatial statistics to normalise)."""

    def __init__(self, in_ch: int, out_ch: int, normed: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1)
        self.norm = norm(out_ch) if normed else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(F.leaky_relu(x, 0.2)))


class Up(nn.Module):
    """One decoder step: ReLU, nearest x2, 3 x 3 conv, GroupNorm, dropout. Its output is
    concatenated with the encoder's features of the same scale (the skip connection)."""

    def __init__(self, in_ch: int, out_ch: int, dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm = norm(out_ch)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(x), scale_factor=2.0, mode="nearest")
        return self.dropout(self.norm(self.conv(h)))


class UNet(nn.Module):
    """IR -> visible RGB through an encoder-decoder whose every scale is bridged by a skip
    connection. Called like ``VQModel``: ``forward`` returns ``(rgb, zero loss, {})``, the
    empty info saying that there is no codebook to report on."""

    has_codebook = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ch * m for m in cfg.ch_mult]
        levels = len(widths)
        self.stem = nn.Conv2d(cfg.in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(
            Down(widths[i - 1], widths[i], normed=i < levels - 1) for i in range(1, levels)
        )
        # up[i] brings level i + 1 to level i; its input is the innermost features, or the
        # concatenation (decoder, skip) of level i + 1
        self.up = nn.ModuleList(
            Up(
                widths[i + 1] * (1 if i + 1 == levels - 1 else 2),
                widths[i],
                cfg.dropout if levels - 2 - i < DROPOUT_LEVELS else 0.0,
            )
            for i in range(levels - 1)
        )
        self.conv_out = nn.Conv2d(2 * widths[0], cfg.out_channels, 3, padding=1)

    @property
    def last_layer(self) -> nn.Parameter:
        """The weight the adaptive GAN weight is measured on, as the VQGAN decoder's."""
        return self.conv_out.weight

    def forward(self, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(visible RGB, a zero fp32 loss in place of the codebook's, {}): the triple of
        ``VQModel.forward``, so the trainer, validation and inference take either."""
        d = self.cfg.downsampling
        if ir.shape[-1] % d or ir.shape[-2] % d:
            raise ValueError(f"input {tuple(ir.shape[-2:])} is not a multiple of {d}")
        skips = [self.stem(ir)]
        for down in self.down:
            skips.append(down(skips[-1]))
        h = skips[-1]
        for i in reversed(range(len(self.up))):
            h = torch.cat([self.up[i](h), skips[i]], dim=1)
        h = F.relu(h)
        self.head_input = h.detach()  # what the last layer saw: the adaptive weight's probe
        rec = self.conv_out(h)
        return rec, torch.zeros((), device=rec.device, dtype=torch.float32), {}

    def head(self, weight: torch.Tensor) -> torch.Tensor:
        """The last layer again on the last forward's input, with ``weight`` in place of its
        own (``Decoder.head``'s contract: a separate graph for the adaptive weight)."""
        x = self.head_input.to(weight.dtype)
        return F.conv2d(x, weight, self.conv_out.bias.detach().to(weight.dtype), padding=1)
