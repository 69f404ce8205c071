"""The model stage: encoder, codebook, decoder, discriminator, losses (taming's split)."""

from .config import LossConfig, ModelConfig
from .discriminator import PatchDiscriminator
from .exported import export_path, load_generator, save_export
from .losses import VQGANLoss, adaptive_weight, hinge_d_loss
from .quantizer import VectorQuantizer, perplexity
from .vqgan import VQModel, build_discriminator

__all__ = [
    "LossConfig",
    "ModelConfig",
    "PatchDiscriminator",
    "VQGANLoss",
    "VQModel",
    "VectorQuantizer",
    "adaptive_weight",
    "build_discriminator",
    "export_path",
    "hinge_d_loss",
    "load_generator",
    "perplexity",
    "save_export",
]
