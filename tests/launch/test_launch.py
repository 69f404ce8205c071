"""``python -m hpc_vqvae.launch`` without a cluster: --local, the generated sbatch script
(golden file) and one-line refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hpc_vqvae.launch import LaunchConfig, TrainJob, make_executor, sbatch_text
from hpc_vqvae.launch.config import minutes
from tests.helpers import (
    TINY,
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
    text = sbatch_text(cfg, TrainJob(TINY, [], Path("runs/tiny"), True), python="python")
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


def test_local_launch_runs_nodes_times_tasks_processes(tmp_path):
    """--local: the job's nodes x tasks ranks as processes of this machine (the demo runs it)."""
    cfg = LaunchConfig(config=TINY, nodes=2, tasks_per_node=3, local=True, folder=tmp_path)
    ex = make_executor(cfg)
    assert ex.parameters["tasks_per_node"] == 6 and ex.parameters["nodes"] == 1


def test_refusals_are_one_line(tmp_path):
    no_slurm = {**train_env(), "PATH": str(Path(sys.executable).parent)}  # no sbatch on it
    cases = [
        (["--config", tmp_path / "none.yaml"], "none.yaml"),
        (["--config", TINY, "--nodes", "0"], "--nodes"),
        (["--config", TINY, "--time", "soon"], "soon"),
        (["--config", TINY, "train.max_stepz=3"], "max_stepz"),
        (["--config", TINY, "--nodes", "2"], "no Slurm here"),
        (["--config", TINY, "--local", f"data.store={tmp_path}/none.zarr"], "does not exist"),
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
