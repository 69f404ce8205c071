"""Checkpoints that every rank writes together and that resume exactly, and the export of the
generator for inference at the end of a run. Where each file goes is ``runs.layout``'s: a
checkpoint is marked complete last, after a barrier, so ``--resume auto`` never picks up a
half-written one.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.preflight import TrainingData
from ..distributed import barrier
from ..model.exported import save_export
from ..runs import layout
from ..runs.layout import DEEPSPEED_TAG as TAG
from ..store.layout import identity
from .config import Config

GENERATOR, DISCRIMINATOR = layout.ENGINE_DIRS


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


def resume_path(resume: str, run_dir: Path) -> Path | None:
    """``--resume``: auto (the run dir's latest complete checkpoint, if any), none, or a path."""
    if resume == "none":
        return None
    if resume == "auto":
        return layout.latest(run_dir)
    path = Path(resume)
    if not layout.is_complete(path):
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
    path = layout.step_dir(run_dir, state.step)
    g_engine.save_checkpoint(str(path / GENERATOR), tag=TAG)
    d_engine.save_checkpoint(str(path / DISCRIMINATOR), tag=TAG)
    torch.save(_rng_state(), path / layout.RNG.format(rank=rank))
    barrier()
    if rank == 0:
        (path / layout.STATE).write_text(state.to_json())
        (path / layout.COMPLETE).write_text(str(state.step))
        for old in layout.checkpoints(run_dir)[:-keep]:
            if layout.is_complete(old) and old != path:
                shutil.rmtree(old, ignore_errors=True)
    barrier()
    return path


def load(path: Path, g_engine, d_engine, rank: int) -> TrainState:
    """Collective. Restores both engines (weights, optimizer, ZeRO shards); the state carries
    this rank's RNG, which ``seed_rng`` applies."""
    for engine, name in zip((g_engine, d_engine), layout.ENGINE_DIRS, strict=True):
        loaded, _ = engine.load_checkpoint(str(path / name), tag=TAG)
        if loaded is None:
            raise FileNotFoundError(f"{path / name}: no DeepSpeed checkpoint")
    rng = path / layout.RNG.format(rank=rank)
    if not rng.is_file():
        raise FileNotFoundError(f"{rng}: the checkpoint was written by another number of ranks")
    state = TrainState(**layout.read_state(path))
    state.rng = torch.load(rng, weights_only=False)
    return state


def run_record(cfg: Config, data: TrainingData) -> dict:
    """What inference and evaluation need of a run besides weights: the config, the
    normalisation statistics of the training days, the training store's identity (bands, grid
    settings) and the day split. ``RUN/run.json``, written when the run starts, so that any
    checkpoint can be exported without the store."""
    return {
        "config": cfg.model_dump(mode="json"),
        "statistics": data.statistics,
        "store": identity(data.attrs),
        "split": data.split.record(),
    }


def write_run_record(
    run_dir: Path, cfg: Config, data: TrainingData, rank: int, tracking_uri: str
) -> Path:
    path = run_dir / layout.RUN_RECORD
    if rank == 0:
        record = {**run_record(cfg, data), "tracking_uri": tracking_uri}
        path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def fp32_weights(g_engine) -> dict[str, torch.Tensor]:
    """The generator's fp32 master weights, by DeepSpeed's own consolidation (collective under
    ZeRO-3): a bf16 run's module holds rounded copies, its optimizer the fp32 masters. Buffers
    (the codebook's EMA statistics) are kept in fp32 by the quantizer."""
    from deepspeed.utils import safe_get_full_fp32_param

    module = g_engine.module
    out = {}
    for name, param in module.named_parameters():
        master = safe_get_full_fp32_param(param)  # None: no optimizer wrapper (fp32, ZeRO-0)
        out[name] = (param if master is None else master).detach().float().cpu().clone()
    out.update({k: v.detach().cpu().clone() for k, v in module.named_buffers()})
    return out


def checkpoint_fp32_weights(path: Path) -> dict[str, torch.Tensor]:
    """The generator's fp32 weights in a saved checkpoint: ZeRO 1-3 through DeepSpeed's
    ``get_fp32_state_dict_from_zero_checkpoint``; ZeRO-0 from the module states file, which
    holds the fp32 weights of an fp32 run."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    engine_dir = path / GENERATOR
    if list((engine_dir / TAG).glob("*zero_pp_rank_*_optim_states.pt")):
        try:
            return get_fp32_state_dict_from_zero_checkpoint(str(engine_dir), tag=TAG)
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"{engine_dir}: DeepSpeed cannot consolidate this checkpoint ({err}); a bf16 "
                "ZeRO-0 run keeps its fp32 masters only in the run (export at its end)"
            ) from None
    states = torch.load(engine_dir / TAG / "mp_rank_00_model_states.pt", weights_only=False)
    return {k: v.float() for k, v in states["module"].items()}


def export_generator(run_dir: Path, g_engine, state: TrainState, rank: int) -> Path:
    """``RUN/generator/``: the fp32 master weights at the end of training, with the run's
    record (collective: every rank takes part in the consolidation)."""
    weights = fp32_weights(g_engine)
    path = run_dir / layout.EXPORT_DIR
    if rank == 0:
        save_export(path, weights, layout.export_meta(run_dir, state.step, state.mlflow_run_id))
    barrier()
    return path
