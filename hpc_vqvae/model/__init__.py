"""The model stage: encoder, codebook, decoder, discriminator, losses (taming's split)."""

from .config import LossConfig, ModelConfig
from .discriminator import PatchDiscriminator
from .exported import EXPORT_NAME, load_generator, save_generator
from .losses import VQGANLoss, adaptive_weight, hinge_d_loss
from .quantizer import VectorQuantizer, perplexity
from .vqgan import VQModel, build_discriminator

__all__ = [
    "EXPORT_NAME",
    "LossConfig",
    "ModelConfig",
    "PatchDiscriminator",
    "VQGANLoss",
    "VQModel",
    "VectorQuantizer",
    "adaptive_weight",
    "build_discriminator",
    "hinge_d_loss",
    "load_generator",
    "perplexity",
    "save_generator",
]
