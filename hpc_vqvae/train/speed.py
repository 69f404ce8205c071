"""Levers that change how fast a training step runs, not what it computes, chosen in the config
and applied in one place before the engines are built; the loop, the equivalence tests and
``benchmarks/gpu_train_step.py`` all go through here.

- ``train.channels_last``: batches, and so every activation after them, in NHWC (cuDNN's own
  layout: no NCHW<->NHWC transposes around each convolution). Only the activations: ZeRO
  flattens parameters into one buffer and refuses channels_last weights ("self.stride(-1)
  must be 1"), and a convolution with NHWC input runs NHWC whatever its weight's layout.
- ``train.compile=blocks``: regional compilation, each ResNet and attention block (the U-Net's
  encoder and decoder steps) compiled in place (GroupNorm, SiLU and the residual add fused),
  so the compiled graphs are a few small ones (one per block shape), warm-up stays short, and
  module structure, parameter names and checkpoints stay exactly as in eager mode; the
  discriminator is small and compiled whole.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.blocks import AttnBlock, ResnetBlock
from ..model.unet import Down, Up

REGIONS = (ResnetBlock, AttnBlock, Down, Up)
RECOMPILE_LIMIT = 64


def compile_blocks(model: nn.Module, disc: nn.Module) -> int:
    """Compile the generator's blocks and the discriminator in place; returns how many
    modules were compiled."""
    blocks = [m for m in model.modules() if isinstance(m, REGIONS)]
    # One static graph per block shape (resolution x width, training and validation): blocks
    # of one class share their code, so the shapes add up past dynamo's default limit of 8,
    # beyond which it would quietly fall back to eager. Static, because inductor's symbolic
    # shapes have failed on these blocks on CPU ("cannot determine truth value of Relational").
    dynamo = torch._dynamo.config
    dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
    for module in [*blocks, disc]:
        module.compile(dynamic=False)
    return len(blocks) + 1


def apply(model: nn.Module, disc: nn.Module, compile_mode: str) -> None:
    if compile_mode == "blocks":
        compile_blocks(model, disc)


def to_device(batch: dict, device: str | torch.device, channels_last: bool) -> dict:
    """A loader's batch on the device (asynchronously from pinned memory on a GPU), images in
    the chosen memory format."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    out = {}
    for key, t in batch.items():
        t = t.to(device, non_blocking=True)
        out[key] = t.contiguous(memory_format=fmt) if t.dim() == 4 else t
    return out
