"""The exported generator: what inference loads, and the only module that knows its format.

An export is a folder: ``model.safetensors`` (the generator's fp32 weights, and its fp32
codebook buffers) and ``config.json`` (the run's config, the step, the normalisation
statistics and the training store's identity: bands and grid settings, so that prediction feeds
the model what it trained on). The trainer writes one to ``RUN/generator/`` at the end of a run;
``python -m hpc_vqvae.export`` writes one from any saved checkpoint. Runs from before this
format hold ``RUN/generator.pt`` (one pickle of both), which still loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..runs.layout import EXPORT_DIR
from .blocks import GROUP_CHANNELS, regroup
from .config import ModelConfig
from .generator import Generator, build_generator

WEIGHTS, META = "model.safetensors", "config.json"
LEGACY = "generator.pt"
# GroupNorm's fewest channels a group (model/blocks.py), in the meta: an export without it was
# made with 1, and is loaded so.
GROUP_CHANNELS_KEY = "norm_group_channels"


def export_path(checkpoint: Path) -> Path:
    """What ``checkpoint`` names: an export folder, a legacy ``generator.pt``, or a run dir's
    export (``RUN/generator/``, else ``RUN/generator.pt``)."""
    if (checkpoint / WEIGHTS).is_file() or checkpoint.is_file():
        return checkpoint
    if (checkpoint / EXPORT_DIR / WEIGHTS).is_file():
        return checkpoint / EXPORT_DIR
    return checkpoint / LEGACY


def is_export(path: Path) -> bool:
    return (path / WEIGHTS).is_file() or path.suffix == ".pt" and path.is_file()


def save_export(folder: Path, weights: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write an export; into a hidden sibling first, renamed when whole."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.partial")
    tmp.mkdir(parents=True, exist_ok=True)
    tensors = {k: _fp32(v).contiguous().cpu() for k, v in weights.items()}
    save_file(tensors, tmp / WEIGHTS)
    meta = {**meta, GROUP_CHANNELS_KEY: GROUP_CHANNELS}
    (tmp / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    if folder.exists():
        for old in (folder / WEIGHTS, folder / META):
            old.unlink(missing_ok=True)
        folder.rmdir()
    tmp.rename(folder)
    return folder


def _fp32(t: torch.Tensor) -> torch.Tensor:
    """Floating tensors as fp32; flags (the codebook's ``initted``) as they are."""
    return t.detach().float() if t.is_floating_point() else t.detach()


def load_generator(path: Path, device: str = "cpu") -> tuple[Generator, dict]:
    """The model in eval mode on ``device``, and the meta it was exported with; which network
    (``model.generator``: VQGAN or U-Net) is the exported config's."""
    if path.is_dir():
        weights = load_file(path / WEIGHTS, device="cpu")
        meta = json.loads((path / META).read_text())
    else:  # a legacy generator.pt
        meta = torch.load(path, map_location="cpu", weights_only=False)
        weights = meta.pop("generator")
    model = build_generator(ModelConfig(**meta["config"]["model"]))
    model.load_state_dict(weights)
    if meta.get(GROUP_CHANNELS_KEY, 1) != GROUP_CHANNELS:  # as it trained
        regroup(model, meta.get(GROUP_CHANNELS_KEY, 1))
    return model.to(device).eval(), meta
