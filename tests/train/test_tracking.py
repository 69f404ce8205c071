"""The tracker keeps training going when the MLflow server goes away, and catches up."""

import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from hpc_vqvae.train import tracker as tracker_module
from hpc_vqvae.train.tracker import Tracker
from tests.helpers.tracking import start_mlflow_server, stop_mlflow_server

pytestmark = pytest.mark.slow


def test_server_outage_is_survived_and_caught_up(tmp_path, monkeypatch):
    monkeypatch.setattr(tracker_module, "RETRY_S", 0.5)
    root = tmp_path / "mlflow"
    server, port = start_mlflow_server(root)
    uri = f"http://127.0.0.1:{port}"
    tracker = Tracker(uri, "outage", "run", params={"a": 1})
    tracker.log_metrics({"train/loss": 1.0}, step=1)
    time.sleep(2)
    stop_mlflow_server(server)

    t0 = time.monotonic()
    for step in (2, 3):
        tracker.log_metrics({"train/loss": float(step)}, step=step)
    assert time.monotonic() - t0 < 0.5, "logging must never block training"
    deadline = time.monotonic() + 60
    while not tracker._warned and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tracker._warned, "one warning that the server is unreachable"

    server, _ = start_mlflow_server(root, port)  # the same server back, same backend
    try:
        tracker.close("FINISHED")
        run = MlflowClient(tracking_uri=uri).get_run(tracker.run_id)
        steps = sorted(
            m.step
            for m in MlflowClient(tracking_uri=uri).get_metric_history(
                run.info.run_id, "train/loss"
            )
        )
        assert steps == [1, 2, 3] and run.info.status == "FINISHED"
    finally:
        stop_mlflow_server(server)


CHILD = """
import sys, time
from pathlib import Path
from hpc_vqvae.train.tracker import Tracker
uri, folder, name = sys.argv[1:]
(Path(folder) / f"ready-{name}").touch()
while not (Path(folder) / "go").exists():
    time.sleep(0.005)
Tracker(uri, "at-once", name).close("FINISHED")
"""


def test_runs_started_at_once_share_a_fresh_database(tmp_path):
    """A job array started in one folder: three trainers' trackers open the same SQLite file,
    which none has created yet, at the same moment (MLflow alone fails in its migrations)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    names = [f"run{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, uri, str(tmp_path), name],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name in names
    ]
    deadline = time.monotonic() + 300  # imports on a busy machine; not what is tested
    while not all((tmp_path / f"ready-{n}").exists() for n in names):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    (tmp_path / "go").touch()
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(e[-1500:] for e in errors)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("at-once").experiment_id])
    assert sorted(r.info.run_name for r in runs) == names
    assert {r.info.status for r in runs} == {"FINISHED"}
