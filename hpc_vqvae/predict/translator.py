"""The model side of prediction: find a run's exported generator (a run dir, or an MLflow
run id), load it with the data settings and statistics it was trained with, and translate
brightness temperatures into reflectance."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..abi.grid import GridSettings
from ..data.config import DataConfig
from ..data.normalize import Normalizer
from ..errors import UsageError
from ..model import EXPORT_NAME, VQModel, load_generator
from ..model.exported import export_path
from ..store import Store
from ..train.tracking import RUN_DIR_TAG

RUN_ID = re.compile(r"[0-9a-f]{32}")


def resolve_checkpoint(arg: str, tracking_uri: str | None) -> Path:
    """``arg`` as a path, or, if it is none and looks like an MLflow run id, the run's folder
    from the tag the trainer sets (generator.pt is not an artifact: it can be large)."""
    path = Path(arg)
    if path.exists() or not RUN_ID.fullmatch(arg):
        return path
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise UsageError(
            f"--checkpoint {arg}: no such path; as an MLflow run id it needs --tracking-uri "
            "or MLFLOW_TRACKING_URI"
        )
    run_dir = _mlflow_run_dir(arg, uri)
    if not (run_dir / EXPORT_NAME).is_file():
        raise UsageError(
            f"MLflow run {arg}: no {EXPORT_NAME} in its run dir {run_dir} "
            "(unfinished, or the folder moved: pass the run dir instead)"
        )
    return run_dir


def _mlflow_run_dir(run_id: str, uri: str) -> Path:
    """The run folder recorded in the run's tags; every failure on the way is one line."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise UsageError(f"--tracking-uri {uri}: no such MLflow database")  # not create one
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # their INFO lines would bury a one-line error
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise UsageError(f"--checkpoint {run_id}: no such MLflow run at {uri}") from None
        first = str(err).splitlines()[0][:200]
        raise UsageError(f"MLflow at {uri} did not answer ({err.error_code}: {first})") from None
    except Exception as err:  # noqa: BLE001 (e.g. a database that is not MLflow's)
        raise UsageError(f"MLflow at {uri}: {type(err).__name__}") from None
    run_dir = run.data.tags.get(RUN_DIR_TAG)
    if not run_dir:
        raise UsageError(
            f"MLflow run {run_id} has no tag {RUN_DIR_TAG} (trained before it was recorded): "
            "pass the run dir"
        )
    return Path(run_dir)


@torch.no_grad()
def translate_batch(model: VQModel, ir: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(N, C, H, W) normalised IR -> (N, 3, H, W) network output in [-1, 1]; reflect-padded to
    the model's multiple (its encoder halves the size) and cropped back."""
    m = model.cfg.downsampling
    h, w = ir.shape[-2:]
    x = torch.from_numpy(np.nan_to_num(ir, nan=0.0)).float().to(device)
    x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="reflect")
    rec, _, _ = model(x)
    return rec[:, :, :h, :w].clamp(-1, 1).cpu().numpy()


@dataclass(frozen=True)
class Translator:
    """A loaded generator with the data settings, statistics and grid settings it was trained
    with."""

    model: VQModel
    meta: dict
    data_cfg: DataConfig
    norm: Normalizer
    grid: GridSettings  # how the store it trained on brought scans onto the 2 km grid
    checkpoint: Path
    device: str

    @classmethod
    def load(cls, checkpoint: Path, device: str) -> Translator:
        path = export_path(checkpoint)
        if not path.is_file():
            raise UsageError(
                f"--checkpoint {checkpoint}: no {EXPORT_NAME} (a finished training run dir)"
            )
        model, meta = load_generator(path, device)
        data_cfg = DataConfig(**meta["config"]["data"])
        norm = Normalizer(data_cfg, meta.get("statistics", {}), f"checkpoint {checkpoint}")
        # Checkpoints from before the store's identity was carried: stores then were made
        # with the default grid settings unless their maker changed them.
        grid = GridSettings.from_attrs(meta.get("store", {}))
        return cls(model, meta, data_cfg, norm, grid, checkpoint, device)

    def check_store(self, store: Store) -> None:
        """A store made with other grid settings than the one the model trained on would feed
        it other inputs (checkpoints that predate the record cannot tell, and pass)."""
        store.require_arrays(self.input_bands)
        if "store" in self.meta and store.grid_settings != self.grid:
            raise UsageError(
                f"data store {store.path} was made with {store.grid_settings}, but the model "
                f"trained on a store made with {self.grid}: preprocess the range with those "
                "settings"
            )

    @property
    def input_bands(self) -> list[str]:
        return self.data_cfg.input_bands

    @property
    def sun_normalised(self) -> bool:
        return self.data_cfg.divide_by_cos_sza

    def reflectance(self, bt: np.ndarray) -> np.ndarray:
        """(N, C, H, W) brightness temperatures -> (N, 3, H, W) R, G, B reflectance factors in
        the convention the model was trained on (not yet masked where the IR is invalid).

        A model trained on reflectance / cos(sza) predicts the scene as lit by an overhead
        sun; that is kept: multiplying the sun back in would black out the night, which is
        what this product is for (the outputs say which convention they carry)."""
        ir = self.norm.ir(bt.swapaxes(0, 1)).swapaxes(0, 1)  # it scales (C, ...) by band
        return self.norm.vis_to_reflectance(translate_batch(self.model, ir, self.device))
