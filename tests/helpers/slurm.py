"""Jobs on the Slurm test cluster (tests/slurm_cluster.py): submission, states from sacct, waits
with deadlines."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.real import REPO
from tests.helpers.training import small_run, train_env

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}


# A test preempts a training job once PREEMPT_AT steps are logged; the signal must then reach
# it (poll, scancel, slurmd) before its last step: 18 steps of ~0.2-0.4 s here, not 9.
JOB_STEPS = 20


PREEMPT_AT = 2


TRAIN_SCRIPT = REPO / "slurm" / "train_multinode.sh"


def job_overrides(store: Path, tracking_uri: str) -> list[str]:
    """A training job of JOB_STEPS fast steps that reports to ``tracking_uri``."""
    return small_run(store, JOB_STEPS, f"train.tracking_uri={tracking_uri}")


def job_env(cluster, **extra) -> dict:
    """Client environment: the cluster's SLURM_CONF, the venv first on PATH, CPU training."""
    env = train_env(SLURM_CONF=str(cluster.conf), **extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def slurm_cmd(env: dict, *cmd: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr}"
    return proc.stdout


def job_state(env: dict, job_id: str) -> str:
    out = slurm_cmd(env, "sacct", "-X", "-n", "-P", "-j", job_id, "-o", "State")
    return out.split()[0] if out.split() else "UNKNOWN"


def wait_for_job(env: dict, job_id: str, timeout: float = 600) -> str:
    """Poll until the job ends. A requeued job is held by Slurm for ~120 s (its BeginTime);
    this cluster's "admin" releases it early to keep the test short, but not within the
    second of the requeue: slurmd revokes the old launch credential with a one-second
    timestamp, and a relaunch in that same second is killed ("Job credential revoked")."""
    end = time.monotonic() + timeout
    released = -60.0
    while time.monotonic() < end:
        queued = slurm_cmd(env, "squeue", "-h", "-j", job_id, "-o", "%T %r").strip()
        if "BeginTime" in queued and time.monotonic() - released > 30:
            slurm_cmd(env, "scontrol", "update", f"jobid={job_id}", "starttime=now+3")
            released = time.monotonic()
        state = job_state(env, job_id)
        if not queued and state in TERMINAL:
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job_state(env, job_id)} after {timeout} s")


def wait_for_steps(metrics: Path, steps: int, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= steps:
            return
        time.sleep(0.2)
    raise AssertionError(f"{metrics}: fewer than {steps} steps after {timeout} s")
