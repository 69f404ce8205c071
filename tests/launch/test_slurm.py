"""``slurm/train_multinode.sh`` and ``python -m hpc_vqvae.launch`` on a real two-node Slurm
cluster (2 nodes x 1 task, gloo on CPU): completion, both ranks, one MLflow run, and
preemption (SIGUSR2, or an admin's ``scontrol requeue``) -> checkpoint -> requeue -> resume
with the losses of an uninterrupted run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.real import TINY
from tests.helpers.slurm import (
    JOB_STEPS,
    PREEMPT_AT,
    TRAIN_SCRIPT,
    job_env,
    job_overrides,
    slurm_cmd,
    wait_for_job,
    wait_for_steps,
)
from tests.helpers.tracking import mlflow_runs
from tests.helpers.training import losses, read_metrics

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.deepspeed]


def _sbatch_env(env: dict, store: Path, uri: str, **extra) -> dict:
    return {
        **env,
        "CONFIG": str(TINY),
        "EXTRA": " ".join(job_overrides(store, uri)),
        "PYTHON": sys.executable,
        **extra,
    }


def _submit_script(cwd: Path, env: dict, *sbatch_flags: str) -> str:
    """``sbatch [flags] slurm/train_multinode.sh``, or with no flags the script's own
    submitter mode (``bash slurm/train_multinode.sh`` with resources from the environment)."""
    (cwd / "logs").mkdir(exist_ok=True)
    cmd = (
        ["sbatch", *sbatch_flags, str(TRAIN_SCRIPT)]
        if sbatch_flags
        else ["bash", str(TRAIN_SCRIPT)]
    )
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return re.search(r"Submitted batch job (\d+)", out.stdout).group(1)


@pytest.fixture(scope="module")
def reference(slurm, train_store, tmp_path_factory):
    """An uninterrupted ``sbatch slurm/train_multinode.sh`` run on 2 nodes x 1 task."""
    cwd = tmp_path_factory.mktemp("sbatch")
    uri = f"sqlite:///{cwd}/mlflow.db"
    env = _sbatch_env(job_env(slurm), train_store, uri)
    flags = ("--nodes=2", "--ntasks-per-node=1", "--gpus-per-node=0", "--cpus-per-task=1")
    job = _submit_script(cwd, env, *flags, "--time=10")
    state = wait_for_job(env, job)
    return {"cwd": cwd, "job": job, "state": state, "uri": uri, "env": env}


def test_sbatch_script_runs_on_two_nodes(reference):
    cwd, job, env = reference["cwd"], reference["job"], reference["env"]
    log = cwd / "logs" / f"hpc-vqvae-{job}.out"
    assert reference["state"] == "COMPLETED", log.read_text()[-3000:]
    steps = slurm_cmd(env, "sacct", "-n", "-P", "-j", f"{job}.0", "-o", "NTasks,NodeList")
    assert steps.split() == ["2|n[1-2]"]  # one training step of 2 tasks, one per node
    run_dir = cwd / "runs" / f"hpc-vqvae-{job}"
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, JOB_STEPS + 1))
    for rank in (0, 1):  # both ranks trained, saved and logged
        assert (run_dir / f"resources_rank{rank}.json").exists()
        assert (cwd / "logs" / f"hpc-vqvae-{job}" / f"rank-{rank}.log").exists()
    assert "master n1:" in log.read_text()
    (run,) = mlflow_runs(reference["uri"])
    assert run.info.status == "FINISHED" and run.data.params["world_size"] == "2"
    assert run.data.tags["launcher"] == "slurm"
    assert "train/rec_loss" in run.data.metrics and "val/rmse" in run.data.metrics


# How a running job is stopped and requeued: the command, and what the batch log then says.
PREEMPTIONS = {
    # Slurm's warning before preemption or the time limit: the script requeues on exit 75
    "sigusr2": (("scancel", "--signal=USR2"), "requeueing"),
    # an admin: SIGTERM to every task, SIGKILL after KillWait; Slurm itself requeues
    "scontrol-requeue": (("scontrol", "requeue"), "(restart 1)"),
}


@pytest.mark.parametrize("how", PREEMPTIONS)
def test_sbatch_preemption_requeues_and_resumes_exactly(
    slurm, train_store, reference, tmp_path, how
):
    """Stopped mid-run: all ranks stop at the next step and save together, the job is
    requeued and resumes in the same run dir and MLflow run, and ends with the uninterrupted
    run's losses."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = _sbatch_env(
        job_env(slurm), train_store, uri, NODES="2", GPUS_PER_NODE="0", CPUS_PER_TASK="1"
    )
    job = _submit_script(tmp_path, env)  # submitter mode: resources from the environment
    run_dir = tmp_path / "runs" / f"hpc-vqvae-{job}"
    wait_for_steps(run_dir / "metrics.jsonl", PREEMPT_AT)
    command, said = PREEMPTIONS[how]
    slurm_cmd(env, *command, job)
    assert wait_for_job(env, job) == "COMPLETED"
    history = slurm_cmd(env, "sacct", "-X", "-D", "-n", "-P", "-j", job, "-o", "State")
    assert history.split() == ["REQUEUED", "COMPLETED"], history  # COMPLETED alone: too late
    log = (tmp_path / "logs" / f"hpc-vqvae-{job}.out").read_text()
    assert said in log and "(restart 1)" in log
    rank0 = (tmp_path / "logs" / f"hpc-vqvae-{job}" / "rank-0.log").read_text()
    assert "checkpoint saved, resume with --resume auto" in rank0
    rows = read_metrics(run_dir)
    assert [r["step"] for r in rows] == list(range(1, JOB_STEPS + 1))
    ref = read_metrics(reference["cwd"] / "runs" / f"hpc-vqvae-{reference['job']}")
    assert losses(rows[-1]) == losses(ref[-1])
    (run,) = mlflow_runs(uri)  # the resumed job went on in the same MLflow run
    assert run.info.status == "FINISHED"


def _launch(env: dict, cwd: Path, store: Path, uri: str, *args: str):
    cmd = [sys.executable, "-m", "hpc_vqvae.launch", "--config", str(TINY), *args]
    cmd += ["--folder", str(cwd / "submitit"), "--run-dir", str(cwd / "run")]
    cmd += job_overrides(store, uri)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_submitit_launch_on_slurm(slurm, train_store, reference, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = _launch(job_env(slurm), tmp_path, train_store, uri, "--nodes", "2", "--time", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job = re.search(r"submitted job (\d+) to Slurm", proc.stdout).group(1)
    assert f"{tmp_path}/submitit/{job}/{job}_0_log.out" in proc.stdout
    (run,) = mlflow_runs(uri)
    assert f"FINISHED at step {JOB_STEPS}: MLflow run {run.info.run_id}" in proc.stdout
    assert run.data.params["world_size"] == "2" and run.data.tags["launcher"] == "submitit"
    ref = read_metrics(reference["cwd"] / "runs" / f"hpc-vqvae-{reference['job']}")
    assert losses(read_metrics(tmp_path / "run")[-1]) == losses(ref[-1])


def test_submitit_preemption_checkpoints_on_all_ranks(slurm, train_store, reference, tmp_path):
    """submitit calls checkpoint() on rank 0 only: the trainer's stop flag must still make
    every rank save before rank 0 requeues through submitit."""
    import submitit

    env = job_env(slurm)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = _launch(env, tmp_path, train_store, uri, "--nodes", "2", "--no-wait")
    assert proc.returncode == 0, proc.stderr
    job = re.search(r"submitted job (\d+)", proc.stdout).group(1)
    wait_for_steps(tmp_path / "run" / "metrics.jsonl", PREEMPT_AT)
    slurm_cmd(env, "scancel", "--signal=USR2", job)
    assert wait_for_job(env, job) == "COMPLETED"
    history = slurm_cmd(env, "sacct", "-X", "-D", "-n", "-P", "-j", job, "-o", "State")
    assert history.split() == ["REQUEUED", "COMPLETED"], history  # COMPLETED alone: too late
    result = submitit.SlurmJob(tmp_path / "submitit" / job, job, tasks=(0, 1)).results()
    assert [r["status"] for r in result] == ["FINISHED", "FINISHED"]
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert len(ckpts) == 2  # the preemption checkpoint and the final one
    ref = read_metrics(reference["cwd"] / "runs" / f"hpc-vqvae-{reference['job']}")
    assert losses(read_metrics(tmp_path / "run")[-1]) == losses(ref[-1])
    (run,) = mlflow_runs(uri)
    assert run.info.status == "FINISHED" and run.info.run_id == result[0]["run_id"]
