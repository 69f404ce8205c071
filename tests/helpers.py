"""Every test helper, in one place: real components (MPI, files, MLflow, Slurm) required or
skipped, stores built by the real stages, and commands run as a user runs them. Fixtures live
in the conftest files and use these."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
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
TINY = REPO / "configs" / "tiny.yaml"


def samples_path() -> Path:
    """The real GOES-17 L1b samples: ../shared/abi-samples, or $HPC_VQVAE_SAMPLES."""
    return Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))


def sample_files() -> list[Path]:
    return sorted(samples_path().glob("OR_ABI-L1b-*.nc"))


def write_synthetic(
    root: Path,
    first_day: str,
    last_day: str,
    every_hours: int,
    hours: tuple[int, ...] | None = None,
    **spec,
) -> Path:
    """A synthetic G17 M1 archive under ``root`` (``spec``: other ArchiveSpec fields)."""
    from datetime import date, datetime, timedelta
    from datetime import time as clock

    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive

    start = datetime.combine(date.fromisoformat(first_day), clock())
    end = datetime.combine(date.fromisoformat(last_day), clock(23, 59))
    every = timedelta(hours=every_hours)
    write_archive(ArchiveSpec(root=root, start=start, end=end, every=every, hours=hours, **spec))
    return root


def preprocess_here(archive: Path, out: Path, years: str, **settings) -> Path:
    """The preprocessing stage in this process (one rank), default config plus ``settings``."""
    from mpi4py import MPI

    from hpc_vqvae.preprocess import load_config
    from hpc_vqvae.preprocess.pipeline import run

    cfg = load_config(None, {"archive": archive, "output": out, "years": years, **settings})
    run(cfg, MPI.COMM_WORLD)
    return out


def build_store(
    root: Path,
    first_day: str,
    last_day: str,
    every_hours: int,
    hours: tuple[int, ...] | None = None,
) -> Path:
    """A synthetic G17 M1 archive under root/abi, preprocessed in this process into
    root/store.zarr: the real stages, at test size."""
    write_synthetic(root / "abi", first_day, last_day, every_hours, hours)
    years = ",".join(str(y) for y in range(int(first_day[:4]), int(last_day[:4]) + 1))
    return preprocess_here(root / "abi", root / "store.zarr", years)


def load_store(path: Path):
    """A store's whole dataset, decoded by xarray, in memory."""
    import xarray as xr

    with xr.open_zarr(path, consolidated=False) as ds:
        return ds.load()


def raw(store: Path, name: str, item: dict, patch: int) -> np.ndarray:
    """The store's ``name`` under the crop of a dataset item (before augmentation), read
    independently of the data stage."""
    import zarr

    t, y0, x0 = (int(item[k]) for k in ("time_index", "y0", "x0"))
    return zarr.open_group(store, mode="r")[name][t, y0 : y0 + patch, x0 : x0 + patch]


def expected_mask(store: Path, item: dict, patch: int, bands: list[str], sza_max: float):
    finite = np.all([np.isfinite(raw(store, b, item, patch)) for b in bands], axis=0)
    return finite & (raw(store, "sza", item, patch) < sza_max)


# --- commands as a user runs them -------------------------------------------------------------


def preprocess_cmd(*args, ranks: int | None = None, mpiexec: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "hpc_vqvae.preprocess", *map(str, args)]
    return cmd if ranks is None else [mpiexec, "-n", str(ranks), *cmd]


def run_preprocess(*args, ranks=None, mpiexec=None, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HDF5_USE_FILE_LOCKING="FALSE")
    out = subprocess.run(
        preprocess_cmd(*args, ranks=ranks, mpiexec=mpiexec),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def cf_errors(path: Path) -> list[str]:
    """The IOOS compliance checker's errors (its high-priority failures) for ``path`` under
    CF 1.11, by the ``compliance-checker`` command users run."""
    exe = shutil.which("compliance-checker") or str(
        Path(sys.executable).with_name("compliance-checker")
    )
    require_real("compliance-checker", Path(exe).exists(), "compliance-checker not installed")
    proc = subprocess.run(
        [exe, "--test=cf:1.11", "--format=json", "-o", "-", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)["cf:1.11"]
    return [m for item in report["high_priorities"] for m in item["msgs"]]


def free_port() -> int:
    from hpc_vqvae.world import free_port as one_free_port  # its one home

    return one_free_port()


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
        "data.test_fraction=0",  # test stores hold a few days: train on one, validate on one
        "data.split_blocks=1",
        "data.buffer_days=0",
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
    return [
        sys.executable,
        "-m",
        "hpc_vqvae.train",
        "--config",
        str(TINY),
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


def losses(row: dict) -> dict:
    """Everything a step computed (not its wall-clock speed)."""
    return {k: v for k, v in row.items() if not k.endswith("samples_per_s")}


# --- MLflow -----------------------------------------------------------------------------------


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


def mlflow_runs(tracking_uri: str, experiment: str = "hpc-vqvae", name: str | None = None) -> list:
    """The experiment's runs, oldest first; only those named ``name`` if given."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    where = f"attributes.run_name = '{name}'" if name else ""
    runs = client.search_runs([exp.experiment_id], where) if exp else []
    return sorted(runs, key=lambda r: r.info.start_time)


# --- the Slurm test cluster -------------------------------------------------------------------

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}
JOB_STEPS = 12  # long enough to preempt a training job mid-run
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


@contextlib.contextmanager
def host_alias(name: str):
    """``name`` resolves to 127.0.0.1 while the block runs (an /etc/hosts line, added only
    when the name does not resolve, and removed again): a login node's name for servers that
    the tests run on loopback."""
    mark = "# hpc-vqvae test host"
    try:
        socket.gethostbyname(name)
        yield
        return
    except OSError:
        pass
    require_real(f"host name {name}", os.access("/etc/hosts", os.W_OK), "/etc/hosts read-only")
    hosts = Path("/etc/hosts")
    line = f"127.0.0.1 {name} {mark}\n"
    with hosts.open("a") as f:
        f.write(line)
    try:
        yield
    finally:
        hosts.write_text("".join(x for x in hosts.read_text().splitlines(True) if x != line))


# --- the README -------------------------------------------------------------------------------


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def readme_commands(title: str) -> list[str]:
    """The bash commands of a README section, continuation lines joined, comments dropped."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", readme_section(title), re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split(" # ")[0].strip()
            if cmd and not cmd.startswith("#"):
                out.append(" ".join(cmd.split()))
    return out
