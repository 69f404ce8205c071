import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import build_store, require_real

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def train_store(tmp_path_factory) -> Path:
    """Two days of daytime G17 M1 scans (17-23 UTC every 2 h): one trains, one validates."""
    return build_store(
        tmp_path_factory.mktemp("trainstore"), "2020-05-01", "2020-05-02", 2, tuple(range(17, 24))
    )


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


def launch(
    ranks: int,
    launcher: str,
    overrides: list[str],
    run_dir: Path,
    *args: str,
    env: dict | None = None,
    mpiexec: str | None = None,
    check: bool = True,
):
    train = [
        "-m",
        "hpc_vqvae.train",
        "--config",
        str(REPO / "configs" / "tiny.yaml"),
        "--run-dir",
        str(run_dir),
        *args,
        *overrides,
    ]
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
