"""The generator: IR -> encoder -> codebook -> decoder -> visible RGB."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .decoder import Decoder
from .discriminator import PatchDiscriminator
from .encoder import Encoder
from .quantizer import VectorQuantizer


class VQModel(nn.Module):
    has_codebook = True  # its forward's info reports the codebook (the U-Net's does not)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        arch = {
            "ch": cfg.ch,
            "ch_mult": cfg.ch_mult,
            "num_res_blocks": cfg.num_res_blocks,
            "z_channels": cfg.z_channels,
            "attention": cfg.attention,
            "dropout": cfg.dropout,
        }
        self.cfg = cfg
        self.encoder = Encoder(in_channels=cfg.in_channels, **arch)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.quantize = VectorQuantizer(
            cfg.codebook_size,
            cfg.embed_dim,
            codebook_dim=cfg.lookup_dim,
            beta=cfg.beta,
            ema=cfg.ema,
            decay=cfg.ema_decay,
            cosine=cfg.cosine,
            kmeans_init=cfg.kmeans_init,
            dead_code_usage=cfg.dead_code_usage,
        )
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)
        self.decoder = Decoder(out_channels=cfg.out_channels, **arch)

    @property
    def last_layer(self) -> nn.Parameter:
        return self.decoder.last_layer

    def head(self, weight: torch.Tensor) -> torch.Tensor:
        """The decoder's last layer with a stand-in weight (``Decoder.head``)."""
        return self.decoder.head(weight)

    def encode(self, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        if ir.shape[-1] % self.cfg.downsampling or ir.shape[-2] % self.cfg.downsampling:
            raise ValueError(
                f"input {tuple(ir.shape[-2:])} is not a multiple of {self.cfg.downsampling}"
            )
        return self.quantize(self.quant_conv(self.encoder(ir)))

    def decode(self, quant: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(quant))

    def forward(self, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """(reconstructed visible, codebook loss, quantizer info)."""
        quant, qloss, info = self.encode(ir)
        return self.decode(quant), qloss, info


def build_discriminator(cfg: ModelConfig) -> PatchDiscriminator:
    return PatchDiscriminator(
        in_channels=cfg.out_channels,
        cond_channels=cfg.in_channels if cfg.disc_conditional else 0,
        ndf=cfg.disc_ndf,
        n_layers=cfg.disc_layers,
        norm=cfg.disc_norm,
    )
