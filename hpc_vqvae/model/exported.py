"""The exported generator, ``RUN/generator.pt``: what inference loads.

One file holds the consolidated fp32 weights and ``meta``: the run's config, the step, the
normalisation statistics and the store's identity (bands and grid settings), so that
prediction feeds the model what it was trained on. Written by the trainer at the end of a
run, read by ``predict``; this module is the only one that knows the format.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import ModelConfig
from .vqgan import VQModel

EXPORT_NAME = "generator.pt"


def export_path(checkpoint: Path) -> Path:
    """The file of a run dir, or the file itself."""
    return checkpoint / EXPORT_NAME if checkpoint.is_dir() else checkpoint


def save_generator(path: Path, weights: dict[str, torch.Tensor], meta: dict) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save({**meta, "generator": weights}, tmp)
    tmp.replace(path)


def load_generator(path: Path, device: str = "cpu") -> tuple[VQModel, dict]:
    """The model in eval mode on ``device``, and the meta it was saved with."""
    blob = torch.load(path, map_location=device, weights_only=False)
    model = VQModel(ModelConfig(**blob["config"]["model"]))
    model.load_state_dict(blob.pop("generator"))
    return model.to(device).eval(), blob
