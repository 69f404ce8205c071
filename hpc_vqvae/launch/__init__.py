"""The launch stage: the training job on Slurm through submitit (or N local processes), with
preemption handled by checkpoint, requeue and resume. Entry point: ``python -m
hpc_vqvae.launch``; the plain-Slurm route is ``sbatch slurm/train_multinode.sh``."""

from .config import LaunchConfig, LaunchError
from .executor import make_executor, sbatch_text
from .job import TrainJob

__all__ = ["LaunchConfig", "LaunchError", "TrainJob", "make_executor", "sbatch_text"]
