"""Confidence intervals that respect how the scans were made: scans minutes apart, and days
under one weather system, are not independent samples, so intervals come from a bootstrap that
resamples whole local solar days (Efron & Tibshirani 1993's percentile interval), seeded.

Each resample adds up its days' ``Scores`` sums and computes the metrics from them, with the
same formulas as the headline (``metrics.from_sums``); the model-minus-baseline difference is
taken within each resample, so the days shared by both predictors cancel."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics import from_sums

RESAMPLES, SEED, LEVEL = 2000, 0, 0.95
METRICS = ("ssim", "psnr", "psnr_pooled", "rmse", "mae", "lpips")


def resample_weights(days: int, n: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(n, days): how many times each day is drawn in each resample (draws with replacement)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(days, np.full(days, 1.0 / days), size=n).astype(np.float64)


def channel_means(sums: torch.Tensor, data_range: float) -> dict[str, np.ndarray]:
    """Metrics of sums (..., 9, C), averaged over channels (LPIPS is one number): (...)."""
    out = {}
    for key, value in from_sums(sums, data_range).items():
        out[key] = (value if key == "lpips" else value.mean(-1)).numpy()
    return out


def intervals(
    day_sums: torch.Tensor, predictors: list[str], data_range: float, n: int = RESAMPLES
) -> dict:
    """{"predictor": {metric: [lo, hi]}, "model_minus_predictor": {metric: [d, lo, hi]}} from
    ``day_sums`` (predictors, days, 9, C), ``predictors[0]`` being the model."""
    weights = torch.from_numpy(resample_weights(day_sums.shape[1], n))
    boot = channel_means(torch.einsum("nd,pdkc->pnkc", weights, day_sums.double()), data_range)
    point = channel_means(day_sums.double().sum(1), data_range)
    tail = 100 * (1 - LEVEL) / 2
    out: dict = {}
    for i, p in enumerate(predictors):
        out[p] = {m: _percentiles(boot[m][i], tail) for m in METRICS}
    for i, p in enumerate(predictors[1:], 1):
        out[f"model_minus_{p}"] = {
            m: [_round(point[m][0] - point[m][i]), *_percentiles(boot[m][0] - boot[m][i], tail)]
            for m in METRICS
        }
    return out


def _percentiles(values: np.ndarray, tail: float) -> list:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [None, None]
    return [_round(np.percentile(finite, tail)), _round(np.percentile(finite, 100 - tail))]


def _round(x) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)
