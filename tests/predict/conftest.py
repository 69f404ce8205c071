"""One tiny model for every prediction test, made by the real trainer (tracked in a real MLflow
backend) on a store with non-default grid settings: no DQF masking, 90% valid pixels per 2 km
mean, and C05 (1 km, so that the second matters) among its input bands. Its night scan has
DQF-flagged C13 pixels and single missing C05 pixels, as real scans do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from hpc_vqvae.abi.names import walk_archive
from tests.helpers.stores import preprocess_here, write_synthetic
from tests.helpers.training import run_trainer, small_run

BANDS = ["C05", "C13", "C14"]
REGISTERED = "night-visible"  # the model registry name the trainer registers the model as
SETTINGS = {"mask_dqf": False, "min_valid_fraction": 0.9}
NIGHT = "2020-05-02T08:00"
FLAGGED = (slice(200, 210), slice(200, 210))  # C13 pixels with DQF 2 (kept: mask_dqf false)
HOLES = np.arange(100, 120)  # 2 km pixels (i, i) with one of their four C05 pixels missing


@dataclass(frozen=True)
class Trained:
    archive: Path  # G17 M1, 2020-05-01/02 at 08 (night), 18, 20 and 22 UTC
    store: Path  # what it trained on
    run_dir: Path
    tracking_uri: str
    run_id: str


def _damage(archive: Path) -> None:
    """Flag C13 pixels and blank single C05 pixels of the night scan."""
    for entry in walk_archive(archive, years=[2020], sectors=["M1"]):
        n = entry.name
        if f"{n.start:%Y-%m-%dT%H:%M}" != NIGHT or n.band not in (5, 13):
            continue
        with netCDF4.Dataset(entry.path, "r+") as ds:
            var = ds["DQF" if n.band == 13 else "Rad"]
            var.set_auto_maskandscale(False)
            values = var[:]
            if n.band == 13:
                values[FLAGGED] = 2
            else:
                values[2 * HOLES, 2 * HOLES] = var.getncattr("_FillValue")
            var[:] = values


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("predict")
    archive = write_synthetic(
        root / "abi", "2020-05-01", "2020-05-02", 2, (8, 18, 20, 22), bands=(1, 2, 3, 5, 13, 14)
    )
    _damage(archive)
    store = preprocess_here(
        archive, root / "store.zarr", "2020", input_bands=",".join(BANDS), **SETTINGS
    )
    run_dir = root / "run"
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    # made here for its artifact folder: by default sample grids would land in ./mlruns
    client.create_experiment("predict", artifact_location=str(root / "artifacts"))
    overrides = small_run(
        store,
        3,
        f"data.input_bands=[{','.join(BANDS)}]",
        "train.val_batches=1",
        f"train.tracking_uri={uri}",
        "train.experiment=predict",
    )
    run_trainer(1, "none", overrides, run_dir, "--register", REGISTERED)
    (run,) = client.search_runs([client.get_experiment_by_name("predict").experiment_id])
    return Trained(archive, store, run_dir, uri, run.info.run_id)
