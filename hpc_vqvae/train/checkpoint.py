"""Checkpoints that every rank writes together and that resume exactly, and the export of the
generator for inference at the end of a run.

Layout: ``RUN/checkpoints/step_00000500/{generator,discriminator}/`` (one DeepSpeed save dir
per engine: two engines in one dir overwrite each other's ``latest``), ``rng_rank{r}.pt`` and
``state.json`` (the ``TrainState``); ``COMPLETE`` is written last, after a barrier, so a
half-written checkpoint is never picked up by ``--resume auto``.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..distributed import barrier
from ..model.exported import EXPORT_NAME, save_generator
from ..store import Store
from ..store.layout import identity
from .config import Config

TAG = "ds"


@dataclass
class TrainState:
    """Where a run is, besides its engines: what the loop advances and a checkpoint keeps."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # data epoch of the next batch
    batch: int = 0  # index of the next batch within that epoch
    mlflow_run_id: str | None = None
    rng: dict | None = field(default=None, repr=False)  # this rank's RNG, from a checkpoint

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "rng"}, indent=2)


def step_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:08d}"


def latest(run_dir: Path) -> Path | None:
    done = sorted(p.parent for p in (run_dir / "checkpoints").glob("step_*/COMPLETE"))
    return done[-1] if done else None


def resume_path(resume: str, run_dir: Path) -> Path | None:
    """``--resume``: auto (the run dir's latest complete checkpoint, if any), none, or a path."""
    if resume == "none":
        return None
    if resume == "auto":
        return latest(run_dir)
    path = Path(resume)
    if not (path / "COMPLETE").is_file():
        raise FileNotFoundError(f"--resume {path}: not a complete checkpoint")
    return path


def _rng_state() -> dict:
    numpy_state = np.random.get_state()  # noqa: NPY002 (the legacy global RNG, as others use it)
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def seed_rng(state: TrainState, seed: int) -> None:
    """This rank's random state: the checkpoint's, or a fresh seed. Called last in set-up, so
    that nothing before it can shift an uninterrupted run against a resumed one."""
    rng, state.rng = state.rng, None
    if rng is None:
        torch.manual_seed(seed)
        return
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])  # noqa: NPY002
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def save(run_dir: Path, state: TrainState, g_engine, d_engine, rank: int, keep: int = 2) -> Path:
    """Collective: every rank calls it at the same step."""
    path = step_dir(run_dir, state.step)
    g_engine.save_checkpoint(str(path / "generator"), tag=TAG)
    d_engine.save_checkpoint(str(path / "discriminator"), tag=TAG)
    torch.save(_rng_state(), path / f"rng_rank{rank}.pt")
    barrier()
    if rank == 0:
        (path / "state.json").write_text(state.to_json())
        (path / "COMPLETE").write_text(str(state.step))
        for old in sorted((run_dir / "checkpoints").glob("step_*"))[:-keep]:
            if (old / "COMPLETE").exists() and old != path:
                shutil.rmtree(old, ignore_errors=True)
    barrier()
    return path


def load(path: Path, g_engine, d_engine, rank: int) -> TrainState:
    """Collective. Restores both engines (weights, optimizer, ZeRO shards); the state carries
    this rank's RNG, which ``seed_rng`` applies."""
    for engine, name in ((g_engine, "generator"), (d_engine, "discriminator")):
        loaded, _ = engine.load_checkpoint(str(path / name), tag=TAG)
        if loaded is None:
            raise FileNotFoundError(f"{path / name}: no DeepSpeed checkpoint")
    rng = path / f"rng_rank{rank}.pt"
    if not rng.is_file():
        raise FileNotFoundError(f"{rng}: the checkpoint was written by another number of ranks")
    state = TrainState(**json.loads((path / "state.json").read_text()))
    state.rng = torch.load(rng, weights_only=False)
    return state


def export_generator(run_dir: Path, g_engine, cfg: Config, state: TrainState, rank: int) -> Path:
    """Consolidated fp32 generator weights for inference (collective under ZeRO-3), with what
    inference needs besides: the config, the step, the store's normalisation statistics and
    identity (bands and grid settings), and the MLflow run."""
    module = g_engine.module
    if cfg.train.zero_stage == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=None):
            weights = {k: v.detach().float().cpu().clone() for k, v in module.state_dict().items()}
    else:
        weights = {k: v.detach().float().cpu().clone() for k, v in module.state_dict().items()}
    path = run_dir / EXPORT_NAME
    if rank == 0:
        store = Store.open(cfg.data.store)
        meta = {
            "config": cfg.model_dump(mode="json"),
            "step": state.step,
            "statistics": store.statistics,
            "store": identity(store.attrs),
            "mlflow_run_id": state.mlflow_run_id,
        }
        save_generator(path, weights, meta)
    barrier()
    return path
