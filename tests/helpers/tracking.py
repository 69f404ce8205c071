"""A real MLflow tracking server on loopback, and runs read back with MLflow's own client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hpc_vqvae.world import free_port
from tests.helpers.ports import listens
from tests.helpers.real import require_real


def start_mlflow_server(root: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A real MLflow tracking server on 127.0.0.1 (SQLite backend, local artifact store) and its
    port; its own process group, so that it can be stopped whole.

    The server is ours only once a process of its own tree listens on the port
    (``ports.listens``): runs logged to another test's server vanish with it. A server that
    could not bind is started again on a new port; a ``port`` given (the same server back,
    after an outage) is kept."""
    for _ in range(1 if port else 5):
        proc, at = _serve(root, port or free_port())
        if _ours(proc, at):
            return proc, at
        stop_mlflow_server(proc)
    pytest.fail(f"mlflow server in {root} could not listen on its own port")


def _serve(root: Path, port: int) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    require_real("MLflow server", exe is not None, "no mlflow executable in the venv")
    cmd = [
        exe,
        "server",
        "--backend-store-uri",
        f"sqlite:///{root}/srv.db",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # Without the job runner (GenAI jobs): its Huey consumers, four processes polling, would
    # take CPU from the tests for as long as the server is up.
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    return proc, port


def _ours(proc: subprocess.Popen, port: int, timeout: float = 120.0) -> bool:
    """True once /health answers and a process of ``proc``'s tree listens on ``port``; False
    if the server exits first (its port taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200 and listens(proc.pid, port):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    if proc.poll() is None:
        stop_mlflow_server(proc)
        pytest.fail(f"mlflow server on port {port} did not answer /health in {timeout:.0f} s")
    return False


def stop_mlflow_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def mlflow_runs(tracking_uri: str, experiment: str = "hpc-vqvae", name: str | None = None) -> list:
    """The experiment's runs, oldest first; only those named ``name`` if given."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    where = f"attributes.run_name = '{name}'" if name else ""
    runs = client.search_runs([exp.experiment_id], where) if exp else []
    return sorted(runs, key=lambda r: r.info.start_time)
