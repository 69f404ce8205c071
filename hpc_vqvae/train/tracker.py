"""MLflow tracking from rank 0 that never stalls or stops training.

Calls are queued and sent by a background thread; if the tracking server is unreachable the
thread warns once, keeps what it could not send and sends it when the server is back. Which
backend a run logs to is ``hpc_vqvae.tracking``'s rule, resolved once by the loop.
"""

from __future__ import annotations

import getpass
import os
import queue
import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path

from .. import tracking

RETRY_S = 5.0


def run_tags(launcher: str) -> dict[str, str]:
    """MLflow's standard source tags (the UI's source, user and git columns), and where the
    run ran."""
    from mlflow.utils import mlflow_tags as std

    tags = {
        "launcher": launcher,
        "host": socket.gethostname(),
        std.MLFLOW_SOURCE_NAME: "hpc_vqvae.train",
        std.MLFLOW_SOURCE_TYPE: "JOB" if "SLURM_JOB_ID" in os.environ else "LOCAL",
        std.MLFLOW_USER: getpass.getuser(),
    }
    try:
        repo = Path(__file__).resolve().parents[2]
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if commit:
            tags[std.MLFLOW_GIT_COMMIT] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    for env, tag in (("SLURM_JOB_ID", "slurm_job_id"), ("SLURM_JOB_NODELIST", "slurm_nodelist")):
        if env in os.environ:
            tags[tag] = os.environ[env]
    return tags


class Tracker:
    """One MLflow run (new, or resumed by id) in an experiment declared one of training runs
    (``tracking.training_experiment``). Only rank 0 makes one; elsewhere use NullTracker."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str,
        *,
        run_id: str | None = None,
        params: dict | None = None,
        tags: dict | None = None,
    ):
        from mlflow.entities import Param, RunTag

        self.uri = uri
        with tracking.first_use(uri):
            self.client = tracking.client(uri)  # one try per call: our thread retries
            if run_id is None:
                self.experiment_id = tracking.training_experiment(self.client, experiment)
        if run_id is None:
            run = self.client.create_run(self.experiment_id, run_name=run_name)
            self.run_id = run.info.run_id
            items = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
            for i in range(0, len(items), 100):
                self.client.log_batch(self.run_id, params=items[i : i + 100])
        else:
            self.run_id = run_id
            self.client.update_run(run_id, status="RUNNING")
            self.experiment_id = self.client.get_run(run_id).info.experiment_id
            tracking.declare_training(self.client, self.client.get_experiment(self.experiment_id))
        self.client.log_batch(
            self.run_id, tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()]
        )
        self._queue: queue.Queue = queue.Queue()
        self._pending: list = []
        self._warned = False
        self._thread = threading.Thread(target=self._work, daemon=True, name="mlflow-tracker")
        self._thread.start()
        self._system = _system_metrics(self.run_id, uri, resumed=run_id is not None)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._queue.put(("metrics", [Metric(k, float(v), now, step) for k, v in metrics.items()]))

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        self._queue.put(("artifact", (str(path), folder)))

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        self._queue.put(("params", [Param(k, str(v)[:6000]) for k, v in params.items()]))

    def log_dict(self, obj: dict, artifact_file: str) -> None:
        """``obj`` as a JSON or YAML artifact (by the file's extension)."""
        self._queue.put(("dict", (obj, artifact_file)))

    def log_image(self, path: Path, key: str, step: int) -> None:
        """A PNG as an image of ``key`` at ``step``: the UI's image slider steps through them."""
        self._queue.put(("image", (str(path), key, step)))

    def _send(self, kind: str, payload) -> None:
        if kind == "metrics":
            for i in range(0, len(payload), 1000):
                self.client.log_batch(self.run_id, metrics=payload[i : i + 1000])
        elif kind == "params":
            self.client.log_batch(self.run_id, params=payload)
        elif kind == "dict":
            self.client.log_dict(self.run_id, *payload)
        elif kind == "image":
            from PIL import Image

            path, key, step = payload
            with Image.open(path) as image:
                self.client.log_image(self.run_id, image.convert("RGB"), key=key, step=step)
        else:
            self.client.log_artifact(self.run_id, payload[0], payload[1])

    def _flush(self) -> bool:
        while self._pending:
            try:
                self._send(*self._pending[0])
            except Exception as err:  # noqa: BLE001 (any failure: keep it and retry later)
                if not self._warned:
                    warnings.warn(
                        f"MLflow at {self.uri} unreachable ({type(err).__name__}); "
                        "training goes on, metrics are kept and sent when it is back",
                        stacklevel=1,
                    )
                    self._warned = True
                return False
            self._pending.pop(0)
        return True

    def _work(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=RETRY_S)
                if item is None:
                    stop = True
                else:
                    self._pending.append(item)
                while not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    stop = stop or nxt is None
                    if nxt is not None:
                        self._pending.append(nxt)
            except queue.Empty:
                pass
            if not self._flush() and not stop:
                time.sleep(RETRY_S)

    def close(self, status: str = "FINISHED", timeout: float = 60.0) -> None:
        """Send what is queued (waiting up to ``timeout``), then mark the run's status."""
        if self._system is not None:
            self._system.finish()
        self._queue.put(None)
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while not self._flush() and time.monotonic() < deadline:
            time.sleep(1.0)
        try:
            self.client.set_terminated(self.run_id, status=status)
        except Exception:  # noqa: BLE001
            warnings.warn(f"could not mark MLflow run {self.run_id} {status}", stacklevel=1)


def _system_metrics(run_id: str, uri: str, resumed: bool):
    """MLflow's own system-metrics monitor (CPU, memory, disk, network; GPUs through NVML
    where nvidia-ml-py and a driver are present) on this run, from a thread of its own; every
    ``$MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds (default 10). None if it cannot
    start: the run goes on without it."""
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    try:
        monitor = SystemMetricsMonitor(run_id, resume_logging=resumed, tracking_uri=uri)
        monitor.start()
    except Exception as err:  # noqa: BLE001 (a monitor is never worth a failed run)
        warnings.warn(f"no MLflow system metrics ({type(err).__name__}: {err})", stacklevel=2)
        return None
    return monitor


class NullTracker:
    """What ranks other than 0 hold: the same calls, doing nothing."""

    run_id = None
    experiment_id = None

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        pass

    def log_params(self, params: dict) -> None:
        pass

    def log_dict(self, obj: dict, artifact_file: str) -> None:
        pass

    def log_image(self, path: Path, key: str, step: int) -> None:
        pass

    def close(self, status: str = "FINISHED", timeout: float = 60.0) -> None:
        pass
