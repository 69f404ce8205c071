"""Where prediction's and evaluation's generator comes from: a run dir or export, an MLflow
run id (through the run dir the trainer tags), or an MLflow model URI (``runs:/``,
``models:/``), whose logged model carries the export itself."""

from __future__ import annotations

import re
from pathlib import Path

from .. import tracking
from ..errors import UsageError
from ..model import export_path
from ..model.exported import is_export

RUN_ID = re.compile(r"[0-9a-f]{32}")


MODEL_URI = re.compile(r"(runs|models):/.+")


def resolve_checkpoint(arg: str, tracking_uri: str | None) -> Path:
    """``arg`` as a path; an MLflow model URI (``runs:/RUN_ID/generator``,
    ``models:/NAME/VERSION``), downloaded, its export the model's own artifact; or, if it
    looks like an MLflow run id, the run's folder from the tag the trainer sets."""
    path = Path(arg)
    if path.exists() or not (RUN_ID.fullmatch(arg) or MODEL_URI.fullmatch(arg)):
        return path
    uri = tracking.resolve(tracking_uri)
    if not uri:
        raise UsageError(
            f"--checkpoint {arg}: no such path; as an MLflow run id or model URI it needs "
            "--tracking-uri or MLFLOW_TRACKING_URI"
        )
    tracking.require(uri)
    tracking.quiet()
    if MODEL_URI.fullmatch(arg):
        return _download_model(arg, uri)
    run_dir = _mlflow_run_dir(arg, uri)
    if not is_export(export_path(run_dir)):
        raise UsageError(
            f"MLflow run {arg}: no generator export in its run dir {run_dir} "
            "(unfinished, or the folder moved: pass the run dir instead)"
        )
    return run_dir


def _download_model(model_uri: str, uri: str) -> Path:
    """The logged model's files (cached by MLflow's download), and in them the export."""
    from mlflow.artifacts import download_artifacts

    try:
        local = Path(download_artifacts(artifact_uri=model_uri, tracking_uri=uri))
    except Exception as err:  # noqa: BLE001 (no such run, model or version; server down)
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise UsageError(f"--checkpoint {model_uri}: not found at {uri} ({first})") from None
    export = tracking.logged_export(local)
    if not is_export(export_path(export)):
        raise UsageError(f"--checkpoint {model_uri}: not a generator logged by the trainer")
    return export


def _mlflow_run_dir(run_id: str, uri: str) -> Path:
    """The run folder recorded in the run's tags; every failure on the way is one line."""
    from mlflow.exceptions import MlflowException

    try:
        run = tracking.client(uri).get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise UsageError(f"--checkpoint {run_id}: no such MLflow run at {uri}") from None
        first = str(err).splitlines()[0][:200]
        raise UsageError(f"MLflow at {uri} did not answer ({err.error_code}: {first})") from None
    except Exception as err:  # noqa: BLE001 (e.g. a database that is not MLflow's)
        raise UsageError(f"MLflow at {uri}: {type(err).__name__}") from None
    run_dir = run.data.tags.get(tracking.RUN_DIR_TAG)
    if not run_dir:
        raise UsageError(
            f"MLflow run {run_id} has no tag {tracking.RUN_DIR_TAG} (trained before it was "
            "recorded): pass the run dir"
        )
    return Path(run_dir)
