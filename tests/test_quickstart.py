"""The README's HPC quick start, run as written in its CPU form: fetch from a real S3 server
(moto's, on loopback) -> the preprocessing job on the Slurm test cluster -> an MLflow server
with --allowed-hosts -> the training job by sbatch and by submitit -> compare -> predict.

Only paths and sizes change (the substitutions below: dates, nodes and tasks, the tiny config
for the paper one, a free port); the server listens on loopback here, as every test server
does, and the login node's name resolves to it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import xarray as xr

from hpc_vqvae.world import free_port
from tests.helpers.readme import readme_commands
from tests.helpers.real import REPO, host_alias
from tests.helpers.slurm import job_env, wait_for_job
from tests.helpers.tracking import mlflow_runs

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.mpi, pytest.mark.deepspeed]

FAST = (
    "train.max_steps=4 train.log_every=1 train.val_every=4 train.batch_size=4 "
    "data.val_patches_per_scan=2 train.val_batches=1 data.split_blocks=1"
)


def sizes(tmp: Path, port: int) -> list[tuple[str, str]]:
    """(README text, what runs here): paths, the period, nodes and tasks, the model's size."""
    return [
        ("/data/abi", str(tmp / "abi")),
        ("/scratch/$USER/abi.zarr", str(tmp / "abi.zarr")),
        ("$HOME/mlflow.db", str(tmp / "mlflow.db")),
        ("--years 2019-2023", "--start 2023-01-02 --end 2023-01-05"),
        ("YEARS=2019-2023", "YEARS=2023"),
        ("--nodes=2 --ntasks-per-node=32", "--nodes=2 --ntasks-per-node=1 --time=5"),
        ("--host 0.0.0.0 --port 5000", f"--host 127.0.0.1 --port {port}"),
        ("login1:5000", f"login1:{port}"),
        ("configs/paper.yaml", "configs/tiny.yaml"),
        ('abi.zarr" RUN_DIR', f'abi.zarr {FAST}" RUN_DIR'),
        (
            "--nodes=4 --partition=gpu",
            "--nodes=2 --ntasks-per-node=1 --gpus-per-node=0 --cpus-per-task=1 --time=10",
        ),
        (  # both routes run here: the second into a run dir of its own
            "--run-dir runs/paper --nodes 4 --gpus-per-node 4 --partition gpu --time 24:00:00",
            f"--run-dir runs/paper-submitit --nodes 2 --gpus-per-node 0 --time 10 {FAST}",
        ),
        (
            "--start 2023-07-01T06:00 --end 2023-07-01T12:00",
            "--start 2023-01-02 --end 2023-01-05T23:59",
        ),
    ]


def _submitted(out: str) -> str:
    return re.search(r"Submitted batch job (\d+)", out).group(1)


def test_quick_start_as_written(slurm, buckets, tmp_path):
    port = free_port()
    commands = readme_commands("HPC quick start")
    assert len(commands) == 8, "update this test with the README's quick start"
    for link in ("configs", "slurm", "preprocessing"):
        (tmp_path / link).symlink_to(REPO / link)
    env = job_env(slurm, AWS_ENDPOINT_URL=buckets.url, PYTHON=sys.executable)
    env = {k: v for k, v in env.items() if k not in ("MLFLOW_TRACKING_URI", "AWS_ACCESS_KEY_ID")}

    def run(cmd: str) -> str:
        cmd = _sized(cmd, tmp_path, port)
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    fetch, preprocess, server, export, sbatch, launch, compare, predict = commands
    t0 = time.monotonic()
    with host_alias("login1"):
        # 2. data: both satellites of GOES-West across the handover, six bands, 18 and 20 UTC
        assert "copied 48" in run(fetch)
        # 3. the preprocessing job: one store, G17 then G18
        state = wait_for_job(env, _submitted(run(preprocess)), timeout=300)
        assert state == "COMPLETED", [p.read_text()[-2000:] for p in (tmp_path / "logs").glob("*")]
        store = xr.open_zarr(tmp_path / "abi.zarr")
        assert store.sizes["time"] == 8 and set(store.attrs["satellites"]) == {"G17", "G18"}
        # 4. the MLflow server, reached by the login node's name, and only by allowed names
        assert server.endswith(" &")
        proc = subprocess.Popen(  # in the background, as the README's "&" runs it
            shlex.split(_sized(server.removesuffix(" &"), tmp_path, port)),
            cwd=tmp_path, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            name, _, uri = _sized(export, tmp_path, port).removeprefix("export ").partition("=")
            env[name] = uri
            _wait_for(f"{uri}/health")
            api = f"{uri}/api/2.0/mlflow/experiments/search?max_results=1"
            with urllib.request.urlopen(api, timeout=10) as r:  # as login1: allowed
                assert r.status == 200
            other = urllib.request.Request(api, headers={"Host": f"elsewhere:{port}"})
            with pytest.raises(urllib.error.HTTPError, match="403"):  # /health is exempt
                urllib.request.urlopen(other, timeout=10)
            # 5. training, by the job script and by submitit, both reporting to the server
            state = wait_for_job(env, _submitted(run(sbatch)), timeout=600)
            assert (
                state == "COMPLETED"
                and (tmp_path / "runs/paper/generator/model.safetensors").is_file()
            )
            out = run(launch)
            assert "FINISHED at step 4" in out and "data store" in out
            runs = mlflow_runs(uri)
            assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
            assert {r.data.tags["launcher"] for r in runs} == {"slurm", "submitit"}
            # 6. the runs side by side, and the night imagery of the job script's model
            table = run(compare)
            assert "paper" in table and (tmp_path / "curves.png").stat().st_size > 1000
            run(predict)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    night = xr.open_zarr(tmp_path / "night.zarr")
    assert night.sizes["time"] == 8 and night.attrs["platform"] == "G17,G18"
    print(f"\nQUICKSTART ran in {time.monotonic() - t0:.0f} s")


def _sized(cmd: str, tmp: Path, port: int) -> str:
    for readme, here in sizes(tmp, port):
        cmd = cmd.replace(readme, here)
    return cmd


def _wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout} s")
