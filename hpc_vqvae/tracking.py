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

What a user sees in MLflow's UI (3.17): ``#/experiments/ID`` opens the GenAI pages (Overview,
traces, judges) for every experiment. The UI picks its view from its GenAI / Model training
switch, ``workflowType``: the URL's ``?workflowType=`` first, else the browser's last choice
(local storage), else GenAI. The experiment tag ``mlflow.experimentKind`` decides the view
only where that switch is off (UIs from before it; the code path is still in 3.17's), and
a fresh browser following a link has no last choice. So every command points at
``#/experiments/ID/runs?workflowType=machine_learning`` (``runs_link``), which opens the runs
table with the model-training sidebar in any browser, and the trainer still tags its
experiment ``custom_model_development`` (``training_experiment``) for the UIs that read it.
MLflow's own "View experiment at" line (the GenAI page) is switched off by ``quiet``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

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
# MLflow's experiment-kind tag and the kind of an experiment of training runs (its UI's
# ExperimentKind.CUSTOM_MODEL_DEVELOPMENT, "Machine learning" in its type selector).
KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
# The runs table in the UI's model-training view, after ``#/experiments/ID/``.
RUNS_VIEW = "runs?workflowType=machine_learning"
UI_DEFAULT = "http://127.0.0.1:5000"  # where ``mlflow ui`` serves when given no host or port


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


@contextmanager
def first_use(uri: str) -> Iterator[None]:
    """One process at a time on this SQLite database (an exclusive ``flock`` on its folder)
    while it opens it and finds or makes its experiment. Two trainers that create the same
    fresh database at once fail in MLflow's migrations (alembic), and two that make the same
    experiment at once fail on its name: a job array of runs started in one folder does both.
    Logging afterwards is safe without it. A server serialises on its own; a file system
    without ``flock`` goes on unlocked, as MLflow alone would."""
    folder = Path(uri.removeprefix(SQLITE).split("?")[0]).parent
    if not uri.startswith(SQLITE) or not folder.is_dir():
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


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
    # MLflow's "View experiment at .../#/experiments/ID" opens the GenAI pages: ``runs_link``
    # is printed instead (set it to false to have MLflow's lines back)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def training_experiment(client, name: str) -> str:
    """The id of experiment ``name``, created if missing, and declared an experiment of
    training runs (``KIND_TAG``) unless it declares a kind already: a kind a user chose in
    the UI's selector, or set because the experiment holds GenAI traces too, is theirs to
    keep. An experiment made before this tag existed gets it the first time a run of ours
    reports to it."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, tags={KIND_TAG: MODEL_TRAINING})
    declare_training(client, exp)
    return exp.experiment_id


def declare_training(client, exp) -> None:
    """``KIND_TAG`` on the MLflow ``Experiment`` ``exp`` if it has no kind (or an empty one,
    which the UI shows as "None")."""
    if not exp.tags.get(KIND_TAG):
        client.set_experiment_tag(exp.experiment_id, KIND_TAG, MODEL_TRAINING)


def runs_link(uri: str, experiment_id: str) -> str | None:
    """Where to see an experiment's runs in MLflow's model-training view, in one line: the
    page on a tracking server (``http(s)://``); for a database or folder, the ``mlflow ui``
    command that serves it and the page to open then. None for Databricks, whose UI has
    other addresses. A workspace other than the default (``$MLFLOW_WORKSPACE``) is named in
    the page's query, as MLflow's own links do."""
    if uri.startswith("databricks"):
        return None
    page = f"#/experiments/{experiment_id}/{RUNS_VIEW}"
    workspace = os.environ.get("MLFLOW_WORKSPACE", "").strip()
    if workspace and workspace != "default":
        page += f"&workspace={quote(workspace, safe='')}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    return f"mlflow ui --backend-store-uri {shlex.quote(uri)}, then open {UI_DEFAULT}/{page}"


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
