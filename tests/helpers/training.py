"""The trainer as a user runs it (python -m hpc_vqvae.train under one process, torchrun or
mpiexec), fast overrides of the tiny config, and what a run writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hpc_vqvae.world import free_port
from tests.helpers.real import TINY


def small_run(store: Path, steps: int, *extra: str) -> list[str]:
    """Overrides for a few fast steps of the tiny config with the adversarial term on."""
    return [
        f"data.store={store}",
        f"train.max_steps={steps}",
        "train.log_every=1",
        f"train.val_every={steps}",
        "train.ckpt_every=1000",
        "train.precision=fp32",
        "train.batch_size=4",
        "data.patch_size=32",
        "loss.disc_start=1",
        "data.val_patches_per_scan=2",
        "train.val_batches=2",
        "data.test_fraction=0",  # test stores hold a few days: train on one, validate on one
        "data.split_blocks=1",
        "data.buffer_days=0",
        *extra,
    ]


def cores_per_worker() -> int:
    """The cores one test may give its threads: all of them, or its share under `make test`'s
    pytest-xdist workers (threads past it spin against the other worker's processes)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


def train_env(**extra) -> dict:
    env = dict(
        os.environ,
        DS_ACCELERATOR="cpu",
        OMP_NUM_THREADS="1",
        GLOO_SOCKET_IFNAME="lo",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl (rank 0's logged steps)."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train_cmd(run_dir: Path, *args: str) -> list[str]:
    """``python -m hpc_vqvae.train`` on the tiny config into ``run_dir``, then ``args``."""
    return [
        sys.executable,
        "-m",
        "hpc_vqvae.train",
        "--config",
        str(TINY),
        "--run-dir",
        str(run_dir),
        *args,
    ]


def run_trainer(
    ranks: int,
    launcher: str,
    overrides: list[str],
    run_dir: Path,
    *args: str,
    env: dict | None = None,
    mpiexec: str | None = None,
    check: bool = True,
):
    train = train_cmd(run_dir, *args, *overrides)[1:]
    if launcher == "torchrun":
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={ranks}",
            f"--master_port={free_port()}",
            *train,
        ]
    elif launcher == "mpiexec":
        cmd = [mpiexec, "-n", str(ranks), sys.executable, *train]
        env = {**(env or train_env()), "MASTER_PORT": str(free_port())}
    else:
        cmd = [sys.executable, *train]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or train_env(), timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def losses(row: dict) -> dict:
    """Everything a step computed (not its wall-clock speed)."""
    return {k: v for k, v in row.items() if not k.endswith("samples_per_s")}
