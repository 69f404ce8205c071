import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, require_real

REPO = Path(__file__).resolve().parents[2]


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
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
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


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    port = free_port()
    proc = start_mlflow_server(tmp_path_factory.mktemp("mlflow"), port)
    yield f"http://127.0.0.1:{port}"
    stop_mlflow_server(proc)
