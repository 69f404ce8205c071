"""An evaluation, top to bottom: fit the least-squares baseline on the recorded training days,
score the model and both baselines on every selected scan, per local solar day (the unit the
bootstrap resamples) and per breakdown, reduce over ranks in one collective."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..distributed import all_reduce_
from ..metrics import Scores, ssim_map
from ..model.translator import Translator
from .baselines import LeastSquares, as_tensor, inverted_ir
from .conventions import Space, spaces
from .scans import SZA_BINS, Batch, Selection, batches, read, training_sample

PREDICTORS = {"model": "the model", "baseline": "least squares", "baseline_grey": "inverted IR"}
KEYS = ("ssim", "psnr", "psnr_pooled", "rmse", "mae")
TWILIGHT = f"sza {SZA_BINS[-1][0]}-{SZA_BINS[-1][1]}"


@dataclass
class Evaluation:
    """What the ranks scored, reduced: sums per predictor and day, results per breakdown."""

    predictors: dict[str, str]  # key -> label, the model first
    days: np.ndarray  # datetime64[D], the scored solar days
    day_sums: torch.Tensor  # (predictors, days, 9, 3): ``Scores`` sums of each day
    groups: dict[str, dict[str, dict]]  # {predictor: {breakdown: Scores.result()}}
    saturated: dict[str, float]  # {sza bin: share of its valid pixels with a clipped target}
    data_range: float


def groups(sel: Selection, by: set[str]) -> list[str]:
    """Every breakdown's key, the same on every rank (from the whole selection)."""
    out = [f"sza {lo}-{hi}" for lo, hi in SZA_BINS]
    if "month" in by:
        out += [f"month {m:02d}" for m in sorted({int(str(t)[5:7]) for t in sel.time})]
    if "hour" in by:
        out += [f"hour {h:02d}" for h in sorted({int(str(t)[11:13]) for t in sel.time})]
    return out


def _masks(batch: Batch, keys: list[str], target_sza: float) -> dict[str, np.ndarray]:
    """The pixels each breakdown scores: the training mask (valid, sza < target_sza_max) for
    the whole, month and hour; valid pixels of the bin for each solar zenith bin."""
    day = batch.valid & (batch.sza < target_sza)
    out = {"all": day}
    for key in keys:
        kind, _, value = key.partition(" ")
        if kind == "sza":
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
    convention: str = "model",
    compared: Translator | None = None,
) -> Evaluation:
    """Every rank's scans scored (collective). ``compared``: a second trained model (a U-Net
    beside the VQGAN, say), scored on the same pixels with its difference from the model."""
    lsq = fit_baseline(model, sel)
    predictors = dict(PREDICTORS)
    if compared is not None:
        predictors["compared"] = f"{compared.model.cfg.generator} ({compared.checkpoint.name})"
    keys = groups(sel, by)
    days = np.unique(sel.days)
    space, plain = spaces(model, convention)
    crop = model.data_cfg.patch_size
    per_day = {(p, d): Scores(device, data_range=space.data_range) for p in predictors
               for d in range(len(days))}  # fmt: skip
    per_key = {(p, k): Scores(device, data_range=(plain if k == TWILIGHT else space).data_range)
               for p in predictors for k in keys}  # fmt: skip
    clipped = torch.zeros(len(SZA_BINS), 2, dtype=torch.float64, device=device)
    mine = len(range(rank, len(sel.positions), world))
    bar = tqdm(total=mine, unit="scan", desc="evaluate", file=sys.stderr, disable=rank != 0)
    for batch in batches(model, sel, batch_size, rank, world):
        preds = {
            "model": model.reflectance(batch.bt),  # missing IR: the model's transform fills
            "baseline": lsq.predict(batch.bt),
            "baseline_grey": inverted_ir(batch.bt, model),
        }
        if compared is not None:
            preds["compared"] = compared.reflectance(batch.bt)
        masks = {k: as_tensor(m[:, None], device) for k, m in
                 _masks(batch, keys, model.data_cfg.target_sza_max).items()}  # fmt: skip
        day_of = np.searchsorted(days, batch.days)
        for name, raw in preds.items():
            views = {s.name: _view(model, s, name, raw, batch, device) for s in {space, plain}}
            pred, truth, smap = views[space.name]
            for d in np.unique(day_of):
                i = torch.from_numpy(day_of == d).to(device)
                per_day[name, int(d)].update(
                    pred[i], truth[i], masks["all"][i], lpips, smap[i], crop=crop
                )
            for key in keys:
                pred_k, truth_k, smap_k = views[(plain if key == TWILIGHT else space).name]
                per_key[name, key].update(pred_k, truth_k, masks[key], None, smap_k)
        _count_clipped(clipped, batch, model.data_cfg.reflectance_max)
        bar.update(len(batch.time))
    bar.close()
    return _reduce(predictors, per_day, per_key, clipped, days, keys, space.data_range)


def _view(model, space: Space, name: str, raw: np.ndarray, batch: Batch, device: str):
    """(prediction, truth, their SSIM map) of one predictor in one space, as tensors."""
    pred = as_tensor(space.pred(model, name, raw, batch), device)
    truth = as_tensor(space.truth(batch), device)
    return pred, truth, ssim_map(pred, truth, data_range=space.data_range)


def _count_clipped(counts: torch.Tensor, batch: Batch, reflectance_max: float) -> None:
    """Per solar zenith bin: valid pixels, and those whose target sits at the clip (there
    the model was taught a constant, not the scene)."""
    at_clip = (batch.target >= reflectance_max * (1 - 1e-6)).any(1)
    for i, (lo, hi) in enumerate(SZA_BINS):
        inside = batch.valid & (batch.sza >= lo) & (batch.sza < hi)
        counts[i, 0] += float(inside.sum())
        counts[i, 1] += float((inside & at_clip).sum())


def _reduce(predictors, per_day, per_key, clipped, days, keys, data_range) -> Evaluation:
    """All sums over all ranks in one all-reduce (thousands of days: not one each)."""
    parts = [s.sums for s in per_day.values()] + [s.sums for s in per_key.values()]
    flat = all_reduce_(torch.cat([torch.stack(parts).flatten(), clipped.flatten()]))
    stacked = flat[: -clipped.numel()].view(len(parts), *parts[0].shape)
    clipped = flat[-clipped.numel() :].view_as(clipped)
    # per_day was filled predictor by predictor, day by day: (predictors, days, 9, C)
    day_sums = stacked[: len(per_day)].reshape(len(predictors), len(days), *parts[0].shape).cpu()
    for s, value in zip(per_key.values(), stacked[len(per_day) :], strict=True):
        s.sums = value
    results = {p: {k: per_key[p, k].result() for k in keys} for p in predictors}
    for i, p in enumerate(predictors):
        whole = Scores("cpu", data_range=data_range)
        whole.sums = day_sums[i].sum(0)
        results[p] = {"all": whole.result(), **results[p]}
    saturated = {
        f"{lo}-{hi}": float(clipped[i, 1] / clipped[i, 0]) if clipped[i, 0] > 0 else None
        for i, (lo, hi) in enumerate(SZA_BINS)
    }
    return Evaluation(predictors, days, day_sums, results, saturated, data_range)
