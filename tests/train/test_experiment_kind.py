"""What an MLflow user sees, on a real tracking server read back through its REST API: the
trainer's experiment is declared one of training runs (``mlflow.experimentKind``), whether it
creates the experiment, finds it without the tag, or resumes a run in it; a kind a user chose
is kept; and the link printed at the end serves MLflow's UI at the model-training runs page,
in place of MLflow's own link to the GenAI pages."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from hpc_vqvae import tracking
from hpc_vqvae.train.tracker import Tracker

pytestmark = pytest.mark.slow  # an MLflow server (tests/train/conftest.py)


def _kind(server: str, name: str) -> str | None:
    """The experiment's kind tag as the server's REST API answers it."""
    query = urllib.parse.urlencode({"experiment_name": name})
    url = f"{server}/api/2.0/mlflow/experiments/get-by-name?{query}"
    with urllib.request.urlopen(url, timeout=30) as r:
        tags = json.load(r)["experiment"].get("tags", [])
    return {t["key"]: t["value"] for t in tags}.get(tracking.KIND_TAG)


def _train(server: str, name: str, **kw) -> Tracker:
    """What the trainer's rank 0 does with MLflow, from the first call to the last."""
    tracker = Tracker(server, name, "run", params={"a": 1}, **kw)
    tracker.log_metrics({"train/rec_loss": 0.5}, step=1)
    tracker.close("FINISHED")
    return tracker


def test_an_experiment_the_trainer_creates_is_declared_model_training(mlflow_server):
    _train(mlflow_server, "kind-new")
    assert _kind(mlflow_server, "kind-new") == tracking.MODEL_TRAINING == "custom_model_development"


def test_an_experiment_made_before_gets_the_kind_at_its_first_run(mlflow_server):
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_experiment("kind-old")  # as the trainer made them before the tag
    assert _kind(mlflow_server, "kind-old") is None
    _train(mlflow_server, "kind-old")
    assert _kind(mlflow_server, "kind-old") == tracking.MODEL_TRAINING


def test_a_resumed_run_declares_its_experiment(mlflow_server):
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.create_run(client.create_experiment("kind-resumed"), run_name="run")
    _train(mlflow_server, "kind-resumed", run_id=run.info.run_id)
    assert _kind(mlflow_server, "kind-resumed") == tracking.MODEL_TRAINING


def test_a_kind_a_user_chose_is_kept(mlflow_server):
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_experiment("kind-chosen", tags={tracking.KIND_TAG: "genai_development"})
    _train(mlflow_server, "kind-chosen")
    assert _kind(mlflow_server, "kind-chosen") == "genai_development"


def test_the_link_opens_the_ui_at_the_runs_of_the_model_training_view(mlflow_server, capfd):
    tracker = _train(mlflow_server, "kind-link")
    printed = capfd.readouterr().out
    assert "View experiment at" not in printed, "MLflow's link to the GenAI pages is off"
    link = tracking.runs_link(mlflow_server, tracker.experiment_id)
    page = f"#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning"
    assert link == f"{mlflow_server}/{page}"
    with urllib.request.urlopen(link.split("#")[0], timeout=30) as r:  # the UI's page
        assert r.status == 200 and "<title>MLflow</title>" in r.read().decode()
    # the same line at the end of compare (stderr: stdout is the table)
    cmd = [sys.executable, "-m", "hpc_vqvae.compare", "--experiment", "kind-link"]
    proc = subprocess.run(
        [*cmd, "--tracking-uri", mlflow_server], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert f"MLflow runs of kind-link: {link}" in proc.stderr.splitlines()
