"""The model stage: encoder, codebook, decoder, discriminator, losses (taming's split), and
the pix2pix-style U-Net baseline."""

from .config import LossConfig, ModelConfig
from .discriminator import PatchDiscriminator
from .exported import export_path, load_generator, save_export
from .generator import Generator, build_generator
from .losses import VQGANLoss, adaptive_weight, hinge_d_loss
from .quantizer import VectorQuantizer, perplexity
from .unet import UNet
from .vqgan import VQModel, build_discriminator

__all__ = [
    "LossConfig",
    "Generator",
    "ModelConfig",
    "PatchDiscriminator",
    "UNet",
    "VQGANLoss",
    "VQModel",
    "VectorQuantizer",
    "adaptive_weight",
    "build_discriminator",
    "build_generator",
    "export_path",
    "hinge_d_loss",
    "load_generator",
    "perplexity",
    "save_export",
]
