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

from tests.helpers.real import require_real


def start_mlflow_server(root: Path, port: int) -> subprocess.Popen:
    """A real MLflow tracking server on 127.0.0.1 (SQLite backend, local artifact store),
    answering /health; its own process group, so that it can be stopped whole."""
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
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop_mlflow_server(proc)
    pytest.fail("mlflow server did not answer /health in 120 s")


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
