"""The callable that submitit runs on every task of the job.

Preemption, reconciled with DeepSpeed's collective save: Slurm sends SIGUSR2 to every task.
The trainer's own handler (installed for the length of training, over submitit's) catches it
on every rank; the ranks agree at the next step, all save one checkpoint together, and
training returns. Only then does rank 0 hand over to submitit's handler, which calls
``checkpoint()`` (this same job: it resumes from the run dir) and requeues. Had submitit's
handler acted on the signal itself, rank 0 alone would have requeued mid-step, with no
checkpoint and the other ranks still in a collective.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import submitit


class TrainJob(submitit.helpers.Checkpointable):
    """``python -m hpc_vqvae.train --config C OVERRIDES --run-dir R --resume auto`` as a
    picklable callable; ``checkpoint()`` (inherited) resubmits it unchanged."""

    def __init__(self, config: Path, overrides: list[str], run_dir: Path, gpus: bool) -> None:
        self.config = Path(config).resolve()
        self.overrides = list(overrides)
        self.run_dir = Path(run_dir).resolve()
        self.gpus = gpus

    def __call__(self) -> dict:
        env = submitit.JobEnvironment()
        submitit.helpers.TorchDistributedEnvironment().export(
            set_cuda_visible_devices=self.gpus, overwrite=True
        )
        os.environ.setdefault("HPC_VQVAE_LAUNCHER", "submitit")
        from ..train.config import load_config
        from ..train.loop import train

        result = train(load_config(self.config, self.overrides), self.run_dir, resume="auto")
        if result["requeue"] and env.global_rank == 0:
            self._hand_over_to_submitit()
        return result

    @staticmethod
    def _hand_over_to_submitit() -> None:
        """Run submitit's SIGUSR2 handler now that the checkpoint is on disk: it calls
        ``checkpoint()``, requeues the job and exits."""
        handler = signal.getsignal(signal.SIGUSR2)
        if callable(handler):
            handler(signal.SIGUSR2, None)
