"""Intervals from a bootstrap over days, checked against a direct resampling of per-day
errors, and the LPIPS crops: only daytime crops of the training size, scaled as in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpc_vqvae.evaluate.bootstrap import intervals, resample_weights
from hpc_vqvae.metrics import Scores


def _day_sums(errors_by_day: list[np.ndarray], data_range: float = 1.0) -> torch.Tensor:
    """(days, 9, 3) sums of a constant-truth image per day whose error is ``errors``."""
    out = []
    for err in errors_by_day:
        s = Scores("cpu", data_range=data_range)
        true = torch.full((1, 3, 16, 16), 0.5)
        pred = true + torch.from_numpy(err).float().view(1, 1, 16, 16)
        s.update(pred, true, torch.ones(1, 1, 16, 16))
        out.append(s.sums.clone())
    return torch.stack(out)


def test_rmse_interval_is_the_resampled_days_pooled_error():
    rng = np.random.default_rng(3)
    errors = [rng.normal(0, scale, 256) for scale in np.linspace(0.02, 0.2, 12)]
    model = _day_sums(errors)
    base = _day_sums([e * 1.5 for e in errors])
    ci = intervals(torch.stack([model, base]), ["model", "baseline"], 1.0, n=500)

    sq = np.array([(e.astype(np.float32) ** 2).sum() for e in errors])  # per day
    w = resample_weights(len(errors), 500)
    direct = np.sqrt(w @ sq / (w.sum(1) * 256))  # the same draws, pooled per resample
    assert ci["model"]["rmse"] == pytest.approx(np.percentile(direct, [2.5, 97.5]), rel=1e-5)
    lo, hi = ci["model"]["rmse"]
    assert lo < np.sqrt(sq.sum() / (12 * 256)) < hi
    diff = ci["model_minus_baseline"]["rmse"]
    assert diff[0] < 0 and diff[2] < 0, "better on every day: the interval excludes 0"
    assert ci["model"]["lpips"] == [None, None]  # none measured


def test_identical_days_give_no_spread_and_more_varied_days_a_wider_one():
    same = _day_sums([np.full(256, 0.1)] * 6)
    ci = intervals(torch.stack([same, same]), ["model", "baseline"], 1.0, n=200)
    assert ci["model"]["rmse"] == [pytest.approx(0.1, rel=1e-5)] * 2
    varied = _day_sums([np.full(256, v) for v in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)])
    lo, hi = intervals(torch.stack([varied, varied]), ["model", "b"], 1.0, n=200)["model"]["rmse"]
    assert hi - lo > 0.05


def test_lpips_sees_whole_daytime_crops_scaled_by_the_data_range():
    seen = []

    def lpips(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append((a.shape, float(a.min()), float(a.max())))
        return (a - b).abs().mean(dim=(1, 2, 3))

    pred = torch.full((1, 3, 64, 48), 1.2)  # the target's own maximum
    mask = torch.ones(1, 1, 64, 48)
    mask[..., 40, 5] = 0  # one night pixel: its crop is left out
    s = Scores("cpu", data_range=1.2)
    s.update(pred, pred.clone(), mask, lpips, crop=16)
    ((shape, lo, hi),) = seen
    assert shape == (4 * 3 - 1, 3, 16, 16)  # 4 x 3 crops, one with a night pixel
    assert lo == hi == pytest.approx(1.0)  # 2 * 1.2 / 1.2 - 1: as the training loss sees it
    assert s.result()["lpips"] == 0.0


def test_mlflow_keys_say_which_convention_and_whether_in_sample():
    from hpc_vqvae.evaluate.report import mlflow_metrics

    part = {"ssim": 0.5, "rmse": 0.1}
    report = {**part, "baseline": part, "baseline_grey": part, "in_sample": False,
              "convention": {"name": "model"}}  # fmt: skip
    assert {"eval/ssim", "eval/baseline/rmse"} <= set(mlflow_metrics(report))
    report.update(convention={"name": "paper"}, in_sample=True)
    keys = set(mlflow_metrics(report))
    assert "eval/paper/in_sample/ssim" in keys and not any(k.count("/") < 3 for k in keys)
