"""One rule picks the MLflow backend for every command (``hpc_vqvae.tracking``): the URI
given, the run's recorded one, $MLFLOW_TRACKING_URI, and for training a SQLite file beside
the run folders; a reader never creates a database. And the one line that says where an
experiment's runs are in MLflow's UI."""

import shlex

import pytest
import yaml

from hpc_vqvae import tracking
from hpc_vqvae.errors import UsageError


def test_the_rule_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = tmp_path / "runs" / "tiny"
    beside = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert tracking.for_training(run, None) == beside
    assert tracking.resolve() is None  # a reader with nothing to go on
    assert tracking.resolve(recorded="http://run:5000") == "http://run:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking.for_training(run, None) == "http://env:5000"
    assert tracking.resolve(recorded="http://run:5000") == "http://run:5000"  # run before env
    assert tracking.resolve() == "http://env:5000"
    given = "http://given:5000"
    assert tracking.resolve(given, recorded="http://run:5000", run_dir=run) == given
    assert tracking.for_training(run, given) == given


def test_a_reader_refuses_a_missing_database_and_creates_none(tmp_path):
    db = tmp_path / "typo.db"
    with pytest.raises(UsageError, match="no such MLflow database") as err:
        tracking.require(f"sqlite:///{db}")
    assert str(db) in str(err.value) and not db.exists()
    db.write_bytes(b"")
    tracking.require(f"sqlite:///{db}")
    tracking.require("http://127.0.0.1:1")  # a server is not checked here


def test_the_export_is_found_where_the_mlmodel_says(tmp_path):
    flavor = {"artifacts": {tracking.MODEL_ARTIFACT: {"path": "artifacts/elsewhere"}}}
    (tmp_path / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": flavor}}))
    assert tracking.logged_export(tmp_path) == tmp_path / "artifacts" / "elsewhere"


def test_the_runs_link_for_a_server_a_database_and_databricks(tmp_path, monkeypatch):
    """The page of MLflow's model-training view, and for a database the command serving it
    (a path with a space stays one argument), in one line."""
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    page = "#/experiments/7/runs?workflowType=machine_learning"
    assert tracking.runs_link("https://mlflow.site/", "7") == f"https://mlflow.site/{page}"
    assert tracking.runs_link("http://login1:5000", "7") == f"http://login1:5000/{page}"
    db = f"sqlite:///{tmp_path / 'my runs' / 'mlflow.db'}"
    line = tracking.runs_link(db, "7")
    command, _, opened = line.partition(", then open ")
    assert shlex.split(command) == ["mlflow", "ui", "--backend-store-uri", db]
    assert opened == f"http://127.0.0.1:5000/{page}"
    assert tracking.runs_link("databricks", "7") is None  # its own UI, other addresses
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team a")
    assert tracking.runs_link("http://h:5000", "7") == f"http://h:5000/{page}&workspace=team%20a"
