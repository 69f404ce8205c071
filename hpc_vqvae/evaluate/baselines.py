"""What the model must beat, on the same scans and masks:

- least squares: a per-pixel affine map from the normalised IR bands to the normalised RGB
  target, fitted on the training days (the cheapest learned IR -> visible translation);
- inverted IR: the clean longwave window (C13, else the first input band) as grey, cold bright
  and warm dark, the forecaster's fallback at night: reflectance 1 at 180 K, 0 at 330 K.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model.translator import Translator

GREY_K = (180.0, 330.0)  # brightness temperature of white and of black
FIT_PIXELS = 400_000  # training pixels the least-squares fit sees at most


class LeastSquares:
    """Affine IR -> target in the network's units, fitted on valid daytime training pixels."""

    def __init__(self, model: Translator):
        self.transform = model.transform
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.weights: np.ndarray | None = None

    def add(self, bt: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
        """One training scan: bt (C, H, W) K, target (3, H, W) reflectance, mask (H, W)."""
        ir = self.transform.input(bt)[:, mask].T
        vis = self.transform.reflectance_to_network(target[:, mask]).T
        self.xs.append(np.concatenate([ir, np.ones((len(ir), 1), np.float32)], 1))
        self.ys.append(vis)

    def fit(self) -> LeastSquares:
        x, y = np.concatenate(self.xs), np.concatenate(self.ys)
        stride = max(1, len(x) // FIT_PIXELS)
        self.weights = np.linalg.lstsq(x[::stride].astype(np.float64), y[::stride], rcond=None)[0]
        self.xs, self.ys = [], []
        return self

    def predict(self, bt: np.ndarray) -> np.ndarray:
        """(N, C, H, W) K -> (N, 3, H, W) reflectance."""
        assert self.weights is not None, "fit first"
        ir = self.transform.input(bt, axis=1)  # missing IR filled as the model's is
        x = np.concatenate([ir, np.ones_like(ir[:, :1])], 1)
        vis = np.einsum("nchw,cd->ndhw", x, self.weights).clip(-1, 1)
        return self.transform.reflectance(vis).astype(np.float32)


def inverted_ir(bt: np.ndarray, model: Translator) -> np.ndarray:
    """(N, C, H, W) K -> (N, 3, H, W) grey reflectance."""
    bands = model.input_bands
    band = bt[:, bands.index("C13") if "C13" in bands else 0]
    white, black = GREY_K
    grey = np.clip((black - band) / (black - white), 0.0, 1.0).astype(np.float32)
    return np.repeat(grey[:, None], 3, axis=1)


def as_tensor(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)
