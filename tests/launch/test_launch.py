"""``python -m hpc_vqvae.launch`` without a cluster: --local, the generated sbatch script
(golden file) and one-line refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hpc_vqvae.launch import LaunchConfig, TrainJob, make_executor, sbatch_text
from hpc_vqvae.launch.config import minutes
from tests.helpers.real import REPO, TINY
from tests.helpers.training import train_env

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


def _on(store: Path) -> list[str]:
    """The test store holds two days: one trains, one validates."""
    return [f"data.store={store}", "data.test_fraction=0"]


def test_dry_run_needs_no_slurm(tmp_path, train_store):
    """A laptop or a login node without Slurm's tools: the job script is printed all the same,
    once the config, its files and the store have passed, and nothing is written."""
    no_slurm = {**train_env(), "PATH": str(Path(sys.executable).parent)}  # no srun, no sbatch
    args = ["--config", TINY, *_on(train_store), "--nodes", "2", "--gpus-per-node", "4"]
    proc = _launch(*args, "--dry-run", env=no_slurm, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "#SBATCH --nodes=2" in proc.stdout and "#SBATCH --ntasks-per-node=4" in proc.stdout
    assert "#SBATCH --signal=USR2@120" in proc.stdout and "#SBATCH --requeue" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_dry_run_checks_what_a_submission_checks(tmp_path, train_store):
    """A dry run refuses, in one line and with exit 2, what train would refuse after the
    queue: a crop larger than the store's 500 px scans, a missing store, missing LPIPS
    weights, a bad key. It prints no script then, and writes nothing."""
    no_slurm = {**train_env(), "PATH": str(Path(sys.executable).parent)}
    cases = [
        ([TINY, *_on(train_store), "data.patch_size=1024"], "patch_size 1024 exceeds the store"),
        ([TINY, f"data.store={tmp_path}/none.zarr"], "does not exist"),
        ([REPO / "configs" / "paper.yaml", *_on(train_store)], "lpips"),
        ([TINY, *_on(train_store), "train.max_stepz=3"], "max_stepz"),
    ]
    for (config, *overrides), culprit in cases:
        proc = _launch("--config", config, *overrides, "--dry-run", env=no_slurm, cwd=tmp_path)
        err = proc.stderr.strip()
        assert proc.returncode == 2, (overrides, proc.stderr)
        assert culprit in err and len(err.splitlines()) == 1 and err.startswith("error: "), err
        assert "#SBATCH" not in proc.stdout
    assert list(tmp_path.iterdir()) == []
