"""Checkpoints that every rank writes together and that resume exactly.

Layout: ``RUN/checkpoints/step_00000500/{generator,discriminator}/`` (one DeepSpeed save dir
per engine: two engines in one dir overwrite each other's ``latest``), ``rng_rank{r}.pt`` and
``state.json`` (step, data position, MLflow run id); ``COMPLETE`` is written last, after a
barrier, so a half-written checkpoint is never picked up by ``--resume auto``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

TAG = "ds"


def step_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:08d}"


def latest(run_dir: Path) -> Path | None:
    done = sorted(p.parent for p in (run_dir / "checkpoints").glob("step_*/COMPLETE"))
    return done[-1] if done else None


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _rng_state() -> dict:
    numpy_state = np.random.get_state()  # noqa: NPY002 (the legacy global RNG, as others use it)
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    run_dir: Path, step: int, g_engine, d_engine, state: dict, rank: int, keep: int = 2
) -> Path:
    """Collective: every rank calls it at the same step."""
    path = step_dir(run_dir, step)
    g_engine.save_checkpoint(str(path / "generator"), tag=TAG)
    d_engine.save_checkpoint(str(path / "discriminator"), tag=TAG)
    torch.save(_rng_state(), path / f"rng_rank{rank}.pt")
    _barrier()
    if rank == 0:
        (path / "state.json").write_text(json.dumps(state, indent=2))
        (path / "COMPLETE").write_text(str(step))
        for old in sorted((run_dir / "checkpoints").glob("step_*"))[:-keep]:
            if (old / "COMPLETE").exists() and old != path:
                shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return path


def load(path: Path, g_engine, d_engine, rank: int) -> dict:
    """Collective. Restores both engines (weights, optimizer, ZeRO shards) and this rank's RNG."""
    for engine, name in ((g_engine, "generator"), (d_engine, "discriminator")):
        loaded, _ = engine.load_checkpoint(str(path / name), tag=TAG)
        if loaded is None:
            raise FileNotFoundError(f"{path / name}: no DeepSpeed checkpoint")
    rng = path / f"rng_rank{rank}.pt"
    if not rng.is_file():
        raise FileNotFoundError(f"{rng}: the checkpoint was written by another number of ranks")
    state = json.loads((path / "state.json").read_text())
    state["rng"] = torch.load(rng, weights_only=False)  # applied by the loop when it starts
    return state


def export_generator(path: Path, g_engine, meta: dict, zero_stage: int, rank: int) -> None:
    """Consolidated fp32 generator weights for inference (collective under ZeRO-3), with what
    inference needs besides: ``meta`` (config, step, normalisation statistics, MLflow run)."""
    module = g_engine.module
    if zero_stage == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None):
            state = {k: v.detach().float().cpu().clone() for k, v in module.state_dict().items()}
    else:
        state = {k: v.detach().float().cpu().clone() for k, v in module.state_dict().items()}
    if rank == 0:
        tmp = path.with_suffix(".tmp")
        torch.save({**meta, "generator": state}, tmp)
        tmp.replace(path)
    _barrier()
