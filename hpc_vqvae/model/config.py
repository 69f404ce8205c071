"""Configuration of the model and its losses (validated; a wrong key fails naming it)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelConfig(BaseModel):
    """Encoder/decoder, codebook and discriminator. Defaults are the reference paper's."""

    model_config = ConfigDict(extra="forbid")

    # Which generator the trainer builds (model.build_generator). "unet" is the pix2pix-style
    # U-Net baseline (the AI-VIS method, model/unet.py): skip connections instead of a
    # codebook, trained with the same discriminator, losses and split, so that evaluate's
    # table answers whether the discrete bottleneck helps. It reads in/out_channels, ch,
    # ch_mult (its depth) and dropout; the codebook and ResNet-block keys are the VQGAN's.
    generator: Literal["vqgan", "unet"] = "vqgan"
    in_channels: int = Field(3, ge=1)  # the IR bands
    out_channels: int = Field(3, ge=1)  # R, G, B
    ch: int = Field(128, ge=8)  # base channels
    # channel multipliers per resolution (downsampling 2^(n-1))
    ch_mult: list[int] = [1, 1, 2, 2, 4]
    num_res_blocks: int = Field(3, ge=1)  # ResNet blocks per resolution
    attention: bool = True  # self-attention at the lowest resolution
    # dropout in ResNet blocks (U-Net: in its decoder's three lowest levels, as pix2pix)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    z_channels: int = Field(256, ge=1)  # encoder output channels
    codebook_size: int = Field(4096, ge=2)  # codes (paper: 2048/4096)
    embed_dim: int = Field(256, ge=1)  # dimension of a code (paper: 256)
    lookup_dim: int | None = Field(None, ge=1)  # lower-dimensional lookup (factorised codes)
    beta: float = Field(0.25, ge=0.0)  # commitment weight
    ema: bool = True  # codebook moved by EMA statistics (buffers), not by the optimizer
    ema_decay: float = Field(0.99, gt=0.0, lt=1.0)  # EMA decay
    cosine: bool = False  # l2-normalised lookup
    kmeans_init: bool = True  # k-means init of the codebook on the first batch
    # A code whose EMA usage falls below this fraction of an even share of the global batch
    # (all ranks) is revived from the batch; relative, so it acts alike on any number of GPUs.
    # It replaces dead_code_threshold, an absolute count.
    dead_code_usage: float = Field(0.03, ge=0.0, lt=1.0)
    disc_conditional: bool = True  # CGAN: the discriminator also sees the IR input
    disc_layers: int = Field(3, ge=1)  # PatchGAN layers
    disc_ndf: int = Field(64, ge=8)  # PatchGAN base channels
    # PatchGAN normalisation (group: per sample)
    disc_norm: Literal["group", "batch", "none"] = "group"

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, values):
        if isinstance(values, dict) and "dead_code_threshold" in values:
            raise ValueError(
                "dead_code_threshold (an absolute EMA count, which revived codes on 1 GPU and "
                "none on 16) is replaced by dead_code_usage: a fraction of a code's even share "
                "of the global batch (default 0.03)"
            )
        return values

    @model_validator(mode="after")
    def _unet_has_levels(self):
        if self.generator == "unet" and len(self.ch_mult) < 2:
            raise ValueError(
                "model.generator=unet needs at least two levels in model.ch_mult (one "
                "downsampling step): without one there is no skip connection"
            )
        return self

    @property
    def downsampling(self) -> int:
        """Input size must be a multiple of this."""
        return 2 ** (len(self.ch_mult) - 1)


class LossConfig(BaseModel):
    """Reconstruction + adversarial (hinge, adaptive weight) + codebook/commitment."""

    model_config = ConfigDict(extra="forbid")

    rec: Literal["l1", "l2"] = "l1"  # reconstruction loss
    ssim_weight: float = Field(0.0, ge=0.0)  # weight of 1 - SSIM
    lpips_weight: float = Field(0.0, ge=0.0)  # weight of LPIPS (needs lpips_weights)
    lpips_weights: Path | None = None  # a local LPIPS weight file; never downloaded
    codebook_weight: float = Field(1.0, ge=0.0)  # weight of codebook + commitment loss
    disc_weight: float = Field(0.2, ge=0.0)  # adversarial weight (paper: 0.2)
    disc_factor: float = Field(1.0, ge=0.0)  # scale of the adversarial terms once on
    disc_start: int = Field(0, ge=0)  # step before which neither G's adversarial term nor D trains
    adaptive_weight: bool = True  # taming's ||grad rec|| / ||grad adv|| on the decoder's last layer

    @model_validator(mode="after")
    def _lpips_needs_file(self):
        if self.lpips_weight > 0 and self.lpips_weights is None:
            raise ValueError(
                "lpips_weight > 0 needs lpips_weights: a local weight file "
                "(compute nodes are offline; see hpc_vqvae.model.lpips)"
            )
        return self
