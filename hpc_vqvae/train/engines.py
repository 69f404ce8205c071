"""The two DeepSpeed engines: generator (encoder + quantizer + decoder) and discriminator,
each with its own optimizer, learning rate and ZeRO-sharded state."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config


def precision(cfg: Config, device: str) -> str:
    """bf16 on GPUs, fp32 on CPUs unless configured (fp16 is not supported on CPU)."""
    if cfg.train.precision != "auto":
        return cfg.train.precision
    return "bf16" if device.startswith("cuda") else "fp32"


def ds_config(cfg: Config, world_size: int, device: str = "cpu") -> dict:
    t = cfg.train
    out = {
        "train_micro_batch_size_per_gpu": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.batch_size * t.grad_accum * world_size,
        "zero_optimization": {"stage": t.zero_stage},
        "bf16": {"enabled": precision(cfg, device) == "bf16"},
        "steps_per_print": 10**9,  # we log ourselves
        "wall_clock_breakdown": False,
    }
    if cfg.optim.grad_clip:
        out["gradient_clipping"] = cfg.optim.grad_clip
    return _merge(out, t.deepspeed)


def _merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, section by section (the trainer's keys are never in extra)."""
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _optimizer(module: nn.Module, lr: float, cfg: Config) -> torch.optim.Optimizer:
    # A client optimizer: a DeepSpeed config "AdamW" would JIT-build fused_adam (~80 s on CPU).
    params = [p for p in module.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        params, lr=lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay
    )


def build_engines(cfg: Config, model: nn.Module, disc: nn.Module, world_size: int, device: str):
    """(generator engine, discriminator engine); peak learning rates set, schedule by the loop."""
    import deepspeed

    lr = cfg.learning_rate(world_size)
    engines = []
    for module, scale in ((model, 1.0), (disc, cfg.optim.disc_lr_scale)):
        engine, *_ = deepspeed.initialize(
            model=module,
            optimizer=_optimizer(module, lr * scale, cfg),
            config=ds_config(cfg, world_size, device),
        )
        engines.append(engine)
    return tuple(engines)


def set_lr(engine, lr: float) -> None:
    for group in engine.optimizer.param_groups:
        group["lr"] = lr


def optimizer_state_bytes(engine) -> int:
    """Bytes of optimizer state held by this rank (Adam moments, and ZeRO's fp32 partition):
    what ZeRO-1/2/3 shrink by the number of ranks."""
    opt = engine.optimizer
    inner = getattr(opt, "optimizer", opt)
    total = sum(
        t.numel() * t.element_size()
        for st in inner.state.values()
        for t in st.values()
        if torch.is_tensor(t)
    )
    for group in getattr(opt, "single_partition_of_fp32_groups", []):
        total += group.numel() * group.element_size()
    return total
