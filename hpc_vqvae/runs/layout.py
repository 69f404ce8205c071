"""A training run's folder: the one place that names what is in it, the counterpart of
``store/layout.py``. The trainer writes by these names; ``export``, ``predict`` and
``evaluate`` read by them, without importing the trainer.

    RUN/run.json                     the run's record (config, training-day statistics, store,
                                     day split, tracking URI); written first, it marks the
                                     folder as a run's
    RUN/checkpoints/step_00000500/   one checkpoint: generator/ and discriminator/ (one
                                     DeepSpeed save dir per engine: two engines in one dir
                                     overwrite each other's ``latest``), rng_rank{r}.pt and
                                     state.json; COMPLETE is written last, after a barrier,
                                     so a half-written checkpoint is never picked up
    RUN/generator/                   the export at the end of training
    RUN/exports/step_00000500/       exports of saved checkpoints (python -m hpc_vqvae.export)
    RUN/samples/, metrics.jsonl, resources_rank{r}.json   what the run reports
"""

from __future__ import annotations

import json
from pathlib import Path

from ..tracking import DEFAULT_DB

RUN_RECORD = "run.json"
CHECKPOINTS = "checkpoints"
EXPORT_DIR = "generator"  # the export at the end of training
EXPORTS = "exports"
SAMPLES = "samples"
METRICS = "metrics.jsonl"
RESOURCES = "resources_rank{rank}.json"
# Inside a checkpoint.
ENGINE_DIRS = ("generator", "discriminator")
DEEPSPEED_TAG = "ds"  # the tag each engine saves under
RNG = "rng_rank{rank}.pt"
STATE = "state.json"
COMPLETE = "COMPLETE"

# What a run (trainer, export, evaluation's default output) writes in its dir: all that
# --overwrite clears, the record last.
WRITTEN = (
    RUN_RECORD,
    CHECKPOINTS,
    EXPORT_DIR,
    EXPORTS,
    SAMPLES,
    METRICS,
    RESOURCES.format(rank="*"),
    DEFAULT_DB,
)


def is_run_dir(path: Path) -> bool:
    return (Path(path) / RUN_RECORD).is_file()


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step:08d}"


def checkpoints(run_dir: Path) -> list[Path]:
    """Every checkpoint folder, complete or not, oldest first."""
    return sorted((Path(run_dir) / CHECKPOINTS).glob("step_*"))


def is_complete(path: Path) -> bool:
    return (Path(path) / COMPLETE).is_file()


def complete(run_dir: Path) -> list[Path]:
    """The complete checkpoints, oldest first."""
    return [p for p in checkpoints(run_dir) if is_complete(p)]


def latest(run_dir: Path) -> Path | None:
    done = complete(run_dir)
    return done[-1] if done else None


def read_record(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / RUN_RECORD).read_text())


def read_state(checkpoint: Path) -> dict:
    """A checkpoint's ``state.json``: step, data position and MLflow run id."""
    return json.loads((Path(checkpoint) / STATE).read_text())


def export_meta(run_dir: Path, step: int, mlflow_run_id: str | None, **extra) -> dict:
    """An export's metadata, whoever makes it (the trainer at the end, ``export`` from a
    checkpoint, the MLflow model): the run's record, the step, and the MLflow run."""
    return {**read_record(run_dir), "step": step, "mlflow_run_id": mlflow_run_id, **extra}
