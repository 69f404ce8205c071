"""The trained generator as an MLflow model: a pyfunc that takes brightness temperatures in
kelvin and returns R, G, B reflectance, exactly as ``predict`` computes them (it runs the same
``Translator`` on the same export, which it carries as an artifact, so ``runs:/`` and
``models:/`` URIs work without the run's folder)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np

from ..tracking import MODEL_ARTIFACT as ARTIFACT


class GeneratorModel(mlflow.pyfunc.PythonModel):
    """(N, C, H, W) float32 brightness temperatures (K) of the model's input bands, NaN where
    missing -> (N, 3, H, W) float32 R, G, B reflectance factors in the convention the model
    was trained on (the model's metadata says which), NaN where an input band is."""

    def load_context(self, context) -> None:
        import torch

        from ..model.translator import Translator

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.translator = Translator.load(Path(context.artifacts[ARTIFACT]), device)

    def predict(self, context, model_input, params=None) -> np.ndarray:
        bt = np.asarray(model_input, dtype=np.float32)
        rgb = self.translator.reflectance(bt).astype(np.float32)  # its transform, as predict's
        defined = self.translator.transform.input_valid(bt, axis=1)[:, None]
        return np.where(defined, rgb, np.nan)


def signature(n_bands: int):
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, n_bands, -1, -1))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 3, -1, -1))]),
    )


def log_generator(
    uri: str, run_id: str, export: Path, meta: dict, register: str | None = None
) -> str:
    """Log the export as this run's MLflow model (and register it as ``register``); returns
    the model's ``runs:/`` URI."""
    import mlflow

    from .. import __version__

    data = meta["config"]["data"]
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.pyfunc.log_model(
            name=ARTIFACT,
            python_model=GeneratorModel(),
            artifacts={ARTIFACT: str(export)},
            signature=signature(len(data["input_bands"])),
            pip_requirements=[f"hpc-vqvae=={__version__}", "torch", "numpy"],
            registered_model_name=register,
            metadata={
                "input_bands": data["input_bands"],
                "input_units": "K",
                "output": "R, G, B reflectance factor",
                "sun_normalised": bool(data.get("divide_by_cos_sza", False)),
                "step": int(meta.get("step", -1)),
            },
        )
    return f"runs:/{run_id}/{ARTIFACT}"
