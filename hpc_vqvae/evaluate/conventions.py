"""The spaces an evaluation scores in, chosen by ``--convention``:

- ``model``: the model's own target (reflectance factor, divided by cos(solar zenith) when it
  was trained so, clipped to [0, reflectance_max]) with its true data range, reflectance_max:
  what the model was asked to predict, and what its validation scores.
- ``paper``: plain reflectance factor clipped to [0, 1], data range 1 (Als et al. 2025 score
  reflectance factor on [0, 1]): a sun-normalised prediction is multiplied back by cos(sza).

Twilight (solar zenith 80-90 deg) is scored in plain reflectance in both: there the
sun-normalised target is r / max(cos, 0.01), clipped, so scores in it would measure the clip.
The inverted-IR baseline is a plain grey guess; it is scored as it is in either space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.transform import cos_sza
from ..metrics import SIGMA, WINDOW
from ..model.translator import Translator
from .scans import Batch

PLAIN_PREDICTORS = ("baseline_grey",)  # predictors that guess plain reflectance, not the target


@dataclass(frozen=True)
class Space:
    name: str  # "model" or "plain"
    data_range: float
    description: str

    def truth(self, batch: Batch) -> np.ndarray:
        if self.name == "model":
            return batch.target
        return np.nan_to_num(np.clip(batch.plain, 0.0, 1.0), nan=0.0).astype(np.float32)

    def pred(self, model: Translator, predictor: str, pred: np.ndarray, batch: Batch):
        """A predictor's output (in the model's convention, or plain for the grey one)."""
        if self.name == "model":
            return pred
        if model.sun_normalised and predictor not in PLAIN_PREDICTORS:
            pred = pred * cos_sza(batch.sza)[:, None]
        return np.clip(pred, 0.0, 1.0).astype(np.float32)


def spaces(model: Translator, convention: str) -> tuple[Space, Space]:
    """(the space of the headline scores and breakdowns, the space of twilight)."""
    plain = Space("plain", 1.0, "plain reflectance factor clipped to [0, 1]")
    if convention == "paper":
        return plain, plain
    cfg = model.data_cfg
    what = "reflectance factor" + (" / cos(solar zenith)" if model.sun_normalised else "")
    own = Space("model", cfg.reflectance_max, f"{what} clipped to [0, {cfg.reflectance_max}]")
    return own, plain


def record(model: Translator, convention: str, crop: int) -> dict:
    """What the JSON says of how it scored: a referee's first question of any table."""
    space, twilight = spaces(model, convention)
    return {
        "name": convention,
        "space": space.description,
        "data_range": space.data_range,
        "twilight_space": twilight.description,
        "ssim_window": f"{WINDOW}x{WINDOW} Gaussian, sigma {SIGMA}, valid windows only",
        "lpips_input": f"2 r / {space.data_range} - 1 on daytime {crop}x{crop} px crops",
        "weighting": {
            "rmse": "pixel",
            "mae": "pixel",
            "psnr_pooled": "pixel",
            "psnr": "scan",
            "ssim": "scan",
            "lpips": "crop",
        },
    }
