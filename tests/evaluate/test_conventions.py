"""The spaces evaluate scores in: the model's own target with its range, or plain reflectance
on [0, 1], where a sun-normalised prediction is multiplied back by cos(solar zenith)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hpc_vqvae.data.transform import COS_FLOOR
from hpc_vqvae.evaluate.conventions import spaces
from hpc_vqvae.evaluate.scans import Batch


def _model(sun_normalised: bool):
    """What the spaces read of a Translator: its target convention and range."""
    cfg = SimpleNamespace(reflectance_max=1.2)
    return SimpleNamespace(sun_normalised=sun_normalised, data_cfg=cfg)


def _batch(sza: float, plain: float) -> Batch:
    shape = (1, 3, 4, 4)
    return Batch(
        time=np.zeros(1, "datetime64[ns]"),
        days=np.zeros(1, "datetime64[D]"),
        bt=np.full((1, 3, 4, 4), 250.0, np.float32),
        target=np.full(shape, 1.2, np.float32),
        plain=np.full(shape, plain, np.float32),
        sza=np.full((1, 4, 4), sza, np.float32),
        valid=np.ones((1, 4, 4), bool),
    )


@pytest.mark.parametrize("sun", [True, False])
def test_paper_is_plain_reflectance_on_zero_to_one(sun):
    model = _model(sun)
    space, twilight = spaces(model, "paper")
    assert space == twilight and space.data_range == 1.0
    batch = _batch(sza=60.0, plain=1.3)  # bright cloud: plain reflectance beyond 1
    assert (space.truth(batch) == 1.0).all()
    pred = np.full((1, 3, 4, 4), 0.8, np.float32)
    want = 0.8 * 0.5 if sun else 0.8  # cos(60 deg) = 0.5 back on a sun-normalised output
    assert space.pred(model, "model", pred, batch) == pytest.approx(want, rel=1e-5)
    assert space.pred(model, "baseline_grey", pred, batch) == pytest.approx(0.8)


def test_model_space_keeps_the_target_and_its_range_and_twilight_is_plain():
    model = _model(True)
    space, twilight = spaces(model, "model")
    assert space.data_range == 1.2 and twilight.data_range == 1.0
    batch = _batch(sza=85.0, plain=0.05)  # twilight: the sun-normalised target is clipped
    assert (space.truth(batch) == 1.2).all() and (twilight.truth(batch) == 0.05).all()
    pred = np.full((1, 3, 4, 4), 1.2, np.float32)
    cos = max(np.cos(np.deg2rad(85.0)), COS_FLOOR)
    assert twilight.pred(model, "model", pred, batch) == pytest.approx(1.2 * cos, rel=1e-5)
