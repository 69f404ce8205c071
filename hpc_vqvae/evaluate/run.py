"""An evaluation, top to bottom: fit the least-squares baseline on training days, score the
model and both baselines on every selected scan, whole and broken down, reduce over ranks."""

from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from ..metrics import Scores, ssim_map
from ..model.translator import Translator
from .baselines import LeastSquares, as_tensor, inverted_ir
from .scans import SZA_BINS, Selection, batches, read, training_sample

PREDICTORS = {"model": "the model", "baseline": "least squares", "baseline_grey": "inverted IR"}
KEYS = ("ssim", "psnr", "psnr_pooled", "rmse", "mae")


def groups(sel: Selection, by: set[str]) -> list[str]:
    """Every breakdown's key, the same on every rank (from the whole selection)."""
    out = ["all"] + [f"sza {lo}-{hi}" for lo, hi in SZA_BINS]
    if "month" in by:
        out += [f"month {m:02d}" for m in sorted({int(str(t)[5:7]) for t in sel.time})]
    if "hour" in by:
        out += [f"hour {h:02d}" for h in sorted({int(str(t)[11:13]) for t in sel.time})]
    return out


def _masks(batch, keys: list[str], target_sza: float) -> dict[str, np.ndarray]:
    """The pixels each breakdown scores: the training mask (valid, sza < target_sza_max) for
    the whole, month and hour; valid pixels of the bin for each solar zenith bin."""
    day = batch.valid & (batch.sza < target_sza)
    out = {}
    for key in keys:
        kind, _, value = key.partition(" ")
        if kind == "all":
            out[key] = day
        elif kind == "sza":
            lo, hi = (float(v) for v in value.split("-"))
            out[key] = batch.valid & (batch.sza >= lo) & (batch.sza < hi)
        else:
            field = np.array(
                [int(str(t)[5:7] if kind == "month" else str(t)[11:13]) for t in batch.time]
            )
            out[key] = day & (field == int(value))[:, None, None]
    return out


def fit_baseline(model: Translator, sel: Selection) -> LeastSquares:
    lsq = LeastSquares(model)
    target_sza = model.data_cfg.target_sza_max
    for pos in training_sample(sel):
        b = read(model, sel.store, [pos], sel.store_time[[pos]])
        mask = b.valid[0] & (b.sza[0] < target_sza)
        if mask.any():
            lsq.add(b.bt[0], b.target[0], mask)
    return lsq.fit()


def evaluate(
    model: Translator,
    sel: Selection,
    by: set[str],
    device: str,
    batch_size: int = 4,
    lpips=None,
    rank: int = 0,
    world: int = 1,
) -> dict[str, dict[str, dict]]:
    """{predictor: {breakdown: metrics}} over every rank's scans (collective)."""
    lsq = fit_baseline(model, sel)
    keys = groups(sel, by)
    scores = {(p, k): Scores(device) for p in PREDICTORS for k in keys}
    mine = len(range(rank, len(sel.positions), world))
    bar = tqdm(total=mine, unit="scan", desc="evaluate", file=sys.stderr, disable=rank != 0)
    for batch in batches(model, sel, batch_size, rank, world):
        preds = {
            "model": model.reflectance(batch.bt),  # missing IR: the model's transform fills
            "baseline": lsq.predict(batch.bt),
            "baseline_grey": inverted_ir(batch.bt, model),
        }
        truth = as_tensor(batch.target, device)
        masks = _masks(batch, keys, model.data_cfg.target_sza_max)
        for name, pred in preds.items():
            pred = as_tensor(pred, device)
            smap = ssim_map(pred, truth)  # once for every breakdown: they differ in windows
            for key, mask in masks.items():
                lp = lpips if key == "all" else None
                scores[name, key].update(pred, truth, as_tensor(mask[:, None], device), lp, smap)
        bar.update(len(batch.time))
    bar.close()
    return {name: {key: scores[name, key].reduce().result() for key in keys} for name in PREDICTORS}
