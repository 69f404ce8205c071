"""MLflow's home: which backend a command talks to, the client it talks through, and the
names the trainer leaves there for inference to find (the run-dir tag, the model's artifact).

The tracking URI, by one rule for every command (``resolve``), the first of:

1. the URI given: ``--tracking-uri``, or ``train.tracking_uri`` in the config;
2. the backend the run recorded when it trained (``tracking_uri`` in its ``run.json``): the
   run is there, whatever else is set now (``evaluate``);
3. ``$MLFLOW_TRACKING_URI``;
4. for training only, which must log somewhere: one SQLite file beside the run folders
   (``runs/mlflow.db`` for ``runs/tiny`` and ``runs/tiny-2ranks``), so that runs made in one
   place compare side by side, as MLflow's own ``./mlruns`` default does. MLflow 3 refuses
   the old file store, hence SQLite.

A reader (``predict``, ``evaluate``, ``compare``) never creates a SQLite database: MLflow would
make an empty one, and a typo would then answer "no such run" instead of naming the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import UsageError

ENV = "MLFLOW_TRACKING_URI"
DEFAULT_DB = "mlflow.db"  # rule 4's file, beside the run folders
SQLITE = "sqlite:///"
# The run folder (absolute) as an MLflow tag: how ``predict --checkpoint RUN_ID`` finds the
# run's generator export, which is not logged as a plain artifact (it can be large).
RUN_DIR_TAG = "hpc_vqvae.run_dir"
# The generator's MLflow model in its run (``runs:/RUN_ID/generator``), and the name of the
# export among that model's artifacts.
MODEL_ARTIFACT = "generator"


def resolve(
    given: str | None = None, recorded: str | None = None, run_dir: Path | None = None
) -> str | None:
    """The module's rule: ``given``, else ``recorded``, else $MLFLOW_TRACKING_URI, else (with
    a ``run_dir``, i.e. for training) the SQLite file beside it. None: no backend known."""
    fallback = beside(run_dir) if run_dir is not None else None
    return given or recorded or os.environ.get(ENV) or fallback


def for_training(run_dir: Path, configured: str | None) -> str:
    """Where a training run logs (the loop resolves it once; ``launch`` names it)."""
    return resolve(configured, run_dir=run_dir)


def beside(run_dir: Path) -> str:
    return f"{SQLITE}{Path(run_dir).resolve().parent}/{DEFAULT_DB}"


def missing_db(uri: str) -> bool:
    """A SQLite URI whose file is not there (which MLflow would create, empty)."""
    return uri.startswith(SQLITE) and not Path(uri.removeprefix(SQLITE)).is_file()


def require(uri: str) -> None:
    """A reader's check, in one line: the database it names exists."""
    if missing_db(uri):
        raise UsageError(f"--tracking-uri {uri}: no such MLflow database")


def client(uri: str | None):
    """An ``MlflowClient`` for a command that answers a user: one try (a server that is down
    is one line, not minutes of retries) and none of MLflow's INFO lines, which would bury it.
    The trainer's tracker sets the same, and retries from its own thread."""
    quiet()
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def quiet() -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def logged_export(model_dir: Path) -> Path:
    """The export inside a downloaded MLflow model, where its ``MLmodel`` file says the
    ``MODEL_ARTIFACT`` artifact lies (``artifacts/generator``)."""
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return model_dir / "artifacts" / MODEL_ARTIFACT
    flavor = yaml.safe_load(mlmodel.read_text()).get("flavors", {}).get("python_function", {})
    entry = flavor.get("artifacts", {}).get(MODEL_ARTIFACT, {})
    return model_dir / entry.get("path", f"artifacts/{MODEL_ARTIFACT}")
