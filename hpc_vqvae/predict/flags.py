"""The flags that predict and evaluate share: which model, from which MLflow backend, on
which device. One parent parser, so the two commands cannot drift apart."""

from __future__ import annotations

import argparse

import torch

from ..tracking import MODEL_ARTIFACT


def model_flags(tracking_default: str = "$MLFLOW_TRACKING_URI") -> argparse.ArgumentParser:
    """An argparse parent; ``tracking_default`` says where the command looks without one."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--checkpoint",
        required=True,
        help="a finished training run dir, an export (python -m hpc_vqvae.export), the run's "
        f"MLflow run id, or its MLflow model (runs:/RUN_ID/{MODEL_ARTIFACT}, models:/NAME/VERSION)",
    )
    p.add_argument(
        "--tracking-uri", help=f"MLflow, for a run id or model URI (default: {tracking_default})"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p
