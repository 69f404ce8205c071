"""``python -m hpc_vqvae.demo`` (``make demo``) end to end at a few training steps, then again:
the second run reuses every stage but the prediction. Its training stage is the test of
``python -m hpc_vqvae.launch --local`` (two processes, one MLflow run)."""

from __future__ import annotations

import re
import subprocess
import sys

import imageio.v3 as iio
import pytest
import xarray as xr

from tests.helpers.real import REPO
from tests.helpers.tracking import mlflow_runs
from tests.helpers.training import losses, read_metrics, train_env

pytestmark = [pytest.mark.slow, pytest.mark.mpi, pytest.mark.deepspeed]


def _demo(out, *args):
    cmd = [sys.executable, "-m", "hpc_vqvae.demo", "--dir", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=900)


def test_demo_end_to_end_then_reuse(mpiexec, tmp_path):
    out = tmp_path / "demo"
    first = _demo(out, "--max-steps", "4")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for command in (
        "$ python -m hpc_vqvae.synth",
        "$ mpiexec -n 2 python -m hpc_vqvae.preprocess",
        "$ python -m hpc_vqvae.launch --config",
        "$ python -m hpc_vqvae.predict",
        "$ python -m hpc_vqvae.evaluate",
    ):
        assert command in first.stdout
    # training: python -m hpc_vqvae.launch --local, 2 processes (submitit's LocalExecutor)
    assert "2 rank(s) via submitit on cpu | ZeRO 2" in first.stdout
    assert re.search(r"submitted job \d+ locally: 1 node\(s\) x 2 task\(s\)", first.stdout)
    (run,) = mlflow_runs(f"sqlite:///{out}/mlflow.db")
    assert run.data.params["world_size"] == "2" and run.info.status == "FINISHED"
    assert f"FINISHED at step 4: MLflow run {run.info.run_id}" in first.stdout
    rows = read_metrics(out / "runs" / "tiny")  # tiny.yaml logs step 1, then every 20
    assert rows[0]["step"] == 1 and losses(rows[0])["train/rec_loss"] > 0
    assert "train/rec_loss" in run.data.metrics and "val/rmse" in run.data.metrics
    ds = xr.open_dataset(out / "night.nc")
    assert float(ds.solar_zenith_angle.min()) > 90 and bool(ds.R.notnull().all())
    assert (out / "night.png").stat().st_size > 10_000
    # the night as a loop (3 scans), and the dusk scan blended: observed by day, synthetic
    # by night, the share of each in its own variable
    frames = list(iio.imiter(out / "night.mp4", plugin="FFMPEG"))
    assert len(frames) == 3 and (out / "dusk.png").stat().st_size > 10_000
    dusk = xr.open_dataset(out / "dusk.nc")
    share = dusk.synthetic_share.values
    assert share.min() < 0.5 < share.max()  # the terminator crosses the sector
    # the evaluation table of the run, on the test days, beside both baselines
    assert "test split: 2 of the run's 2 recorded test days" in first.stdout  # 2020-06-03/04
    assert "least squares" in first.stdout and "95% intervals" in first.stdout
    assert "inverted IR" in first.stdout and (out / "evaluation.png").stat().st_size > 10_000
    # where the run is in MLflow's UI: after training (launch), and at the end
    page = f"#/experiments/{run.info.experiment_id}/runs?workflowType=machine_learning"
    link = f"mlflow ui --backend-store-uri sqlite:///{out}/mlflow.db, then open "
    link += f"http://127.0.0.1:5000/{page}"
    assert f"  MLflow runs: {link}" in first.stdout.splitlines()
    assert f"  the runs in the MLflow UI           {link}" in first.stdout.splitlines()

    again = _demo(out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("(done before, reusing it)") == 3
    assert "hpc_vqvae.launch" not in again.stdout
    # the pointers it prints are commands that work
    compare = [sys.executable, "-m", "hpc_vqvae.compare", "--experiment", "hpc-vqvae"]
    compare += ["--tracking-uri", f"sqlite:///{out}/mlflow.db"]
    proc = subprocess.run(compare, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and "tiny" in proc.stdout, proc.stderr
