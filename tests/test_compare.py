"""``python -m hpc_vqvae.compare`` on a real MLflow backend: each metric ranked its own way,
runs of several experiments side by side, and where each experiment's runs are in the UI."""

import json
import subprocess
import sys

import pytest

from hpc_vqvae.compare import best, direction

HISTORY = {
    "val/rmse": [0.30, 0.10, 0.20],
    "val/ssim": [0.50, 0.80, 0.70],
    "val/psnr": [18.0, 24.0, 22.0],
    "train/rec_loss": [0.9, 0.4, 0.5],
    "train/perplexity": [10.0, 900.0, 300.0],
    "val/codebook_usage": [0.1, 0.9, 0.5],
}


@pytest.mark.parametrize(
    ("name", "way"),
    [
        ("val/rmse", "min"),
        ("val/mae", "min"),
        ("val/lpips", "min"),
        ("train/g_loss", "min"),
        ("val/ssim", "max"),
        ("val/psnr_pooled", "max"),
        ("train/samples_per_s", "max"),
        ("val/perplexity", None),
        ("train/codebook_usage", None),
        ("train/lr", None),
    ],
)
def test_each_metric_has_its_direction(name, way):
    assert direction(name) == way
    assert best(name, [2.0, 1.0, 3.0]) == {"min": 1.0, "max": 3.0, None: None}[way]


def test_runs_of_two_experiments_side_by_side(tmp_path):
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    ids = {}
    for exp, lr in (("small", "1e-4"), ("large", "2e-4")):
        exp_id = ids[exp] = client.create_experiment(exp, artifact_location=str(tmp_path / exp))
        run = client.create_run(exp_id, run_name=f"{exp}-run")
        client.log_param(run.info.run_id, "optim.base_lr", lr)
        metrics = [Metric(k, v, 0, s) for k, vs in HISTORY.items() for s, v in enumerate(vs)]
        client.log_batch(run.info.run_id, metrics=metrics)
    cmd = [sys.executable, "-m", "hpc_vqvae.compare", "--experiment", "small", "large"]
    cmd += ["--tracking-uri", uri, "--metrics", *HISTORY]
    proc = subprocess.run([*cmd, "--format", "json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["differing_params"] == ["optim.base_lr"]
    assert sorted(r["experiment"] for r in report["runs"]) == ["large", "small"]
    for run in report["runs"]:
        got = {k: v["best"] for k, v in run["metrics"].items()}
        assert got == {
            "val/rmse": 0.10,
            "val/ssim": 0.80,
            "val/psnr": 24.0,
            "train/rec_loss": 0.4,
            "train/perplexity": None,
            "val/codebook_usage": None,
        }
        assert run["metrics"]["val/rmse"]["final"] == 0.20
    # last, on stderr, where each experiment's runs are in MLflow's UI
    for exp, exp_id in ids.items():
        page = f"http://127.0.0.1:5000/#/experiments/{exp_id}/runs?workflowType=machine_learning"
        line = f"MLflow runs of {exp}: mlflow ui --backend-store-uri {uri}, then open {page}"
        assert line in proc.stderr.splitlines()
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    assert "experiment" in text.splitlines()[0] and "val/rmse best (min)" in text
    assert "val/ssim best (max)" in text and "train/perplexity best" not in text


def test_a_missing_database_is_one_line_and_not_created(tmp_path):
    db = tmp_path / "typo.db"
    cmd = [sys.executable, "-m", "hpc_vqvae.compare", "--experiment", "x"]
    proc = subprocess.run(
        [*cmd, "--tracking-uri", f"sqlite:///{db}"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and str(db) in proc.stderr.strip().splitlines()[-1]
    assert not db.exists()
