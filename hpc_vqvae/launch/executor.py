"""submitit executors for a launch: Slurm, or N local processes; and the job script that Slurm
gets, printed without Slurm being installed (``--dry-run`` on a laptop)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import submitit

from ..errors import LaunchError
from .config import LaunchConfig

# Exported in the job before the tasks start; each can be overridden from the environment.
NCCL_DEFAULTS = (
    "export TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}",
    "export NCCL_DEBUG=${NCCL_DEBUG:-WARN}",
    "export NCCL_IB_TIMEOUT=${NCCL_IB_TIMEOUT:-22}",
)


def slurm_parameters(cfg: LaunchConfig) -> dict:
    """submitit's SlurmExecutor parameters (sbatch's own names): one task per GPU, SIGUSR2
    before the limit, requeueable."""
    params = {
        "job_name": cfg.name,
        "nodes": cfg.nodes,
        "ntasks_per_node": cfg.tasks,
        "cpus_per_task": cfg.cpus_per_task,
        "time": cfg.time_min,
        "signal_delay_s": cfg.signal_delay_s,
        "additional_parameters": {"requeue": True},
        "setup": [
            f"export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-{cfg.cpus_per_task}}}",
            *NCCL_DEFAULTS,
        ],
    }
    if cfg.gpus_per_node:
        params["gpus_per_node"] = cfg.gpus_per_node
    if cfg.mem_gb:
        gb = cfg.mem_gb
        params["mem"] = f"{int(gb)}GB" if gb == int(gb) else f"{int(gb * 1024)}MB"
    if cfg.partition:
        params["partition"] = cfg.partition
    if cfg.account:
        params["account"] = cfg.account
    return params


def require_slurm() -> None:
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        raise LaunchError(
            "no Slurm here (sbatch is not on PATH): run with --local, or on a login node"
        )


def make_executor(cfg: LaunchConfig) -> submitit.Executor:
    """Creates submitit's folder: call it once the launch has passed its checks."""
    folder = cfg.folder / "%j"
    if cfg.local:
        ex = submitit.LocalExecutor(folder)
        ex.update_parameters(
            nodes=1,
            tasks_per_node=cfg.nodes * cfg.tasks,
            gpus_per_node=cfg.nodes * cfg.gpus_per_node,
            timeout_min=cfg.time_min,
        )
        return ex
    require_slurm()
    ex = submitit.SlurmExecutor(folder)
    ex.update_parameters(**slurm_parameters(cfg))
    return ex


# Stand-ins for Slurm's tools, for a dry run: srun only has to exist (submitit checks for it);
# sbatch keeps the script it is given and answers as sbatch does. Python, not sh: PATH may
# hold nothing else.
_FAKE_SRUN = f"#!{sys.executable}\n"
_FAKE_SBATCH = f"""#!{sys.executable}
import pathlib, shutil, sys
shutil.copy(sys.argv[1], pathlib.Path(sys.argv[0]).parent / "job.sbatch")
print("Submitted batch job 1")
"""


@contextlib.contextmanager
def _on_path(folder: Path):
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{folder}{os.pathsep}{before}"
    try:
        yield
    finally:
        os.environ["PATH"] = before


def sbatch_text(cfg: LaunchConfig, job: Callable[[], object], python: str | None = None) -> str:
    """The sbatch script that submitit submits for this launch (``--dry-run``, golden test),
    obtained through submitit's public ``submit`` with stand-ins for sbatch and srun; needs no
    Slurm, creates nothing under ``cfg.folder``. ``python`` replaces the interpreter's path."""
    with tempfile.TemporaryDirectory() as scratch:
        tools, folder = Path(scratch) / "bin", Path(scratch) / "submitit"
        tools.mkdir()
        for name, text in (("srun", _FAKE_SRUN), ("sbatch", _FAKE_SBATCH)):
            (tools / name).write_text(text)
            (tools / name).chmod(0o755)
        with _on_path(tools):
            ex = submitit.SlurmExecutor(folder / "%j", python=python)
            ex.update_parameters(**slurm_parameters(cfg))
            ex.submit(job)
        text = (tools / "job.sbatch").read_text()
    return text.replace(str(folder), str(cfg.folder.absolute()))
