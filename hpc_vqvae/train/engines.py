"""The two DeepSpeed engines: generator (encoder + quantizer + decoder) and discriminator,
each with its own optimizer, learning rate and ZeRO-sharded state."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config


def ds_config(cfg: Config, world_size: int) -> dict:
    t = cfg.train
    out = {
        "train_micro_batch_size_per_gpu": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.batch_size * t.grad_accum * world_size,
        "zero_optimization": {"stage": t.zero_stage},
        "bf16": {"enabled": t.precision == "bf16"},
        "steps_per_print": 10**9,  # we log ourselves
        "wall_clock_breakdown": False,
    }
    if cfg.optim.grad_clip:
        out["gradient_clipping"] = cfg.optim.grad_clip
    return out


def _optimizer(module: nn.Module, lr: float, cfg: Config) -> torch.optim.Optimizer:
    # A client optimizer: a DeepSpeed config "AdamW" would JIT-build fused_adam (~80 s on CPU).
    params = [p for p in module.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        params, lr=lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay
    )


def build_engines(cfg: Config, model: nn.Module, disc: nn.Module, world_size: int):
    """(generator engine, discriminator engine); peak learning rates set, schedule by the loop."""
    import deepspeed

    lr = cfg.learning_rate(world_size)
    engines = []
    for module, scale in ((model, 1.0), (disc, cfg.optim.disc_lr_scale)):
        engine, *_ = deepspeed.initialize(
            model=module,
            optimizer=_optimizer(module, lr * scale, cfg),
            config=ds_config(cfg, world_size),
        )
        engines.append(engine)
    return tuple(engines)


def set_lr(engine, lr: float) -> None:
    for group in engine.optimizer.param_groups:
        group["lr"] = lr
