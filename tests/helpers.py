"""Shared test helpers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_REAL_ENV = "HPC_VQVAE_REQUIRE_REAL"


def require_real(component: str, available: bool, reason: str) -> None:
    """Insist on a real component (MPI, a file, a tool) for the calling test.

    If ``available`` is false the test is skipped with ``reason``, except when
    ``HPC_VQVAE_REQUIRE_REAL=1`` (set by CI in ``.ci/run``): then it fails, so
    that a missing real component can never pass CI as a silent skip.

    Example::

        require_real("MPI", shutil.which("mpiexec") is not None, "mpiexec not on PATH")
    """
    if available:
        return
    message = f"{component} not available: {reason}"
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_REAL_ENV}=1 requires it)", pytrace=False)
    pytest.skip(message)


REPO = Path(__file__).resolve().parents[1]


def samples_path() -> Path:
    """The real GOES-17 L1b samples: ../shared/abi-samples, or $HPC_VQVAE_SAMPLES."""
    return Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))


def sample_files() -> list[Path]:
    return sorted(samples_path().glob("OR_ABI-L1b-*.nc"))


def build_store(
    root: Path,
    first_day: str,
    last_day: str,
    every_hours: int,
    hours: tuple[int, ...] | None = None,
) -> Path:
    """A synthetic G17 M1 archive under root/abi, preprocessed in this process into
    root/store.zarr: the real stages, at test size."""
    from datetime import date, datetime, time, timedelta

    from mpi4py import MPI

    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
    from hpc_vqvae.preprocess import load_config
    from hpc_vqvae.preprocess.pipeline import run

    start = datetime.combine(date.fromisoformat(first_day), time())
    end = datetime.combine(date.fromisoformat(last_day), time(23, 59))
    spec = ArchiveSpec(
        root=root / "abi", start=start, end=end, every=timedelta(hours=every_hours), hours=hours
    )
    write_archive(spec)
    years = ",".join(str(y) for y in range(start.year, end.year + 1))
    out = root / "store.zarr"
    run(load_config(None, {"archive": root / "abi", "output": out, "years": years}), MPI.COMM_WORLD)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        *extra,
    ]


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
    config = str(REPO / "configs" / "tiny.yaml")
    return [
        sys.executable,
        "-m",
        "hpc_vqvae.train",
        "--config",
        config,
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
