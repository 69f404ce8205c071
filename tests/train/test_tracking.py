"""The tracker keeps training going when the MLflow server goes away, and catches up."""

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
