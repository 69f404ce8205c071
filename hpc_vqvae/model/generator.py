"""The one place a generator is built from its config: the trainer, the export's loader and
the benchmarks all call ``build_generator``, so ``model.generator`` picks the network
everywhere at once."""

from __future__ import annotations

from .config import ModelConfig
from .unet import UNet
from .vqgan import VQModel

Generator = VQModel | UNet  # both: forward(ir) -> (rgb, loss, info), last_layer, head, cfg


def build_generator(cfg: ModelConfig) -> Generator:
    """The VQGAN (the paper's) or the pix2pix-style U-Net baseline."""
    if cfg.generator == "unet":
        return UNet(cfg)
    return VQModel(cfg)
