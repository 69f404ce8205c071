"""``python -m hpc_vqvae.launch`` without a cluster: --local, the generated sbatch script
(golden file) and one-line refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hpc_vqvae.launch import LaunchConfig, sbatch_text
from hpc_vqvae.launch.config import minutes
from tests.helpers import (
    JOB_STEPS,
    TINY,
    job_overrides,
    losses,
    mlflow_runs,
    read_metrics,
    train_env,
)

GOLDEN = Path(__file__).parent / "golden" / "submitit.sbatch"


def _launch(*args: str, env: dict | None = None, cwd: Path | None = None):
    cmd = [sys.executable, "-m", "hpc_vqvae.launch", *map(str, args)]
    env = env or train_env()
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_generated_sbatch_script_matches_golden_file():
    cfg = LaunchConfig(
        config=TINY,
        nodes=4,
        gpus_per_node=4,
        cpus_per_task=8,
        mem_gb=200,
        partition="gpu",
        account="proj42",
        time_min=minutes("1-00:00:00"),
        folder=Path("/scratch/logs/submitit"),
    )
    text = sbatch_text(cfg, command="python -u -m submitit.core._submit /scratch/logs/submitit/%j")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_slurm_times():
    assert [minutes(t) for t in ("30", "1:30", "2:00:00", "1-0", "1-12:30", "0:10:01")] == [
        30,
        2,
        120,
        1440,
        2190,
        11,
    ]


@pytest.mark.slow
@pytest.mark.deepspeed
def test_local_launch_two_processes(train_store, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = _launch(
        "--config",
        TINY,
        "--local",
        "--nodes",
        "2",
        "--folder",
        tmp_path / "submitit",
        "--run-dir",
        tmp_path / "run",
        *job_overrides(train_store, uri),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"submitted job \d+ locally: 2 node\(s\) x 1 task\(s\)", proc.stdout)
    (run,) = mlflow_runs(uri)
    assert run.data.params["world_size"] == "2" and run.info.status == "FINISHED"
    assert f"MLflow run {run.info.run_id}" in proc.stdout
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == list(range(1, JOB_STEPS + 1))
    assert all(losses(r) for r in read_metrics(tmp_path / "run"))


def test_refusals_are_one_line(tmp_path):
    no_slurm = {**train_env(), "PATH": str(Path(sys.executable).parent)}  # no sbatch on it
    cases = [
        (["--config", tmp_path / "none.yaml"], "none.yaml"),
        (["--config", TINY, "--nodes", "0"], "--nodes"),
        (["--config", TINY, "--time", "soon"], "soon"),
        (["--config", TINY, "train.max_stepz=3"], "max_stepz"),
        (["--config", TINY, "--nodes", "2"], "no Slurm here"),
    ]
    for args, culprit in cases:
        proc = _launch(*args, env=no_slurm, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        err = proc.stderr.strip()
        assert culprit in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "logs").exists()  # nothing was submitted or written


def test_dry_run_needs_no_slurm(tmp_path):
    """A laptop or a login node without Slurm's tools: the job script is printed all the same,
    and nothing is written."""
    no_slurm = {**train_env(), "PATH": str(Path(sys.executable).parent)}  # no srun, no sbatch
    args = ["--config", TINY, "--nodes", "2", "--gpus-per-node", "4", "--dry-run"]
    proc = _launch(*args, env=no_slurm, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "#SBATCH --nodes=2" in proc.stdout and "#SBATCH --ntasks-per-node=4" in proc.stdout
    assert "#SBATCH --signal=USR2@120" in proc.stdout and "#SBATCH --requeue" in proc.stdout
    assert list(tmp_path.iterdir()) == []
