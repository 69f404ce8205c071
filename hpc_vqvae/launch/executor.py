"""submitit executors for a launch: Slurm (AutoExecutor) or N local processes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import submitit

from .config import LaunchConfig, LaunchError

# Exported in the job before the tasks start; each can be overridden from the environment.
NCCL_DEFAULTS = (
    "export TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}",
    "export NCCL_DEBUG=${NCCL_DEBUG:-WARN}",
    "export NCCL_IB_TIMEOUT=${NCCL_IB_TIMEOUT:-22}",
)


def slurm_parameters(cfg: LaunchConfig) -> dict:
    """AutoExecutor parameters for the job: one task per GPU, SIGUSR2 before the limit,
    requeueable."""
    params = {
        "name": cfg.name,
        "nodes": cfg.nodes,
        "tasks_per_node": cfg.tasks,
        "cpus_per_task": cfg.cpus_per_task,
        "timeout_min": cfg.time_min,
        "slurm_signal_delay_s": cfg.signal_delay_s,
        "slurm_additional_parameters": {"requeue": True},
        "slurm_setup": [
            f"export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-{cfg.cpus_per_task}}}",
            *NCCL_DEFAULTS,
        ],
    }
    if cfg.gpus_per_node:
        params["gpus_per_node"] = cfg.gpus_per_node
    if cfg.mem_gb:
        params["mem_gb"] = cfg.mem_gb
    if cfg.partition:
        params["slurm_partition"] = cfg.partition
    if cfg.account:
        params["slurm_account"] = cfg.account
    return params


def make_executor(cfg: LaunchConfig) -> submitit.AutoExecutor:
    folder = cfg.folder / "%j"
    if cfg.local:
        ex = submitit.AutoExecutor(folder, cluster="local")
        ex.update_parameters(
            name=cfg.name,
            nodes=1,
            tasks_per_node=cfg.nodes * cfg.tasks,
            gpus_per_node=cfg.nodes * cfg.gpus_per_node,
            timeout_min=cfg.time_min,
        )
        return ex
    if shutil.which("sbatch") is None:
        raise LaunchError(
            "no Slurm here (sbatch is not on PATH): run with --local, or on a login node"
        )
    ex = submitit.AutoExecutor(folder, cluster="slurm")
    ex.update_parameters(**slurm_parameters(cfg))
    return ex


def sbatch_text(cfg: LaunchConfig, command: str | None = None) -> str:
    """The sbatch script submitit would submit for this launch (``--dry-run``, golden test);
    creates nothing under ``cfg.folder``."""
    with tempfile.TemporaryDirectory() as scratch:  # submitit makes its folder on creation
        ex = submitit.AutoExecutor(Path(scratch) / "%j", cluster="slurm")
        ex.update_parameters(**slurm_parameters(cfg))
        inner = ex._executor  # submitit renders the script on its Slurm executor
        inner.folder = (cfg.folder / "%j").absolute()
        command = command or inner._submitit_command_str
        return inner._make_submission_file_text(command, "uid")
