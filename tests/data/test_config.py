from pathlib import Path

import pytest
from pydantic import ValidationError

from hpc_vqvae.data import DataConfig

STORE = Path("/nonexistent/store.zarr")  # the config does not touch the store


def test_defaults_and_band_names_are_normalised():
    cfg = DataConfig(store=STORE, input_bands=["c11", 13, "14"])
    assert cfg.input_bands == ["C11", "C13", "C14"]
    assert cfg.target_bands == ["C02", "C01", "C03"]
    assert list(cfg.target) == ["R", "G", "B"]
    assert cfg.patch_size == 256 and cfg.day_mode == "patch" and cfg.ir_norm == "range"


def test_unknown_key_is_named():
    with pytest.raises(ValidationError, match="patchsize"):
        DataConfig(store=STORE, patchsize=64)


@pytest.mark.parametrize(
    "overrides, culprit",
    [
        ({"input_bands": ["C11", "C99"]}, "C99"),
        ({"input_bands": ["C13", "13"]}, "duplicate"),
        ({"target": {"R": {"C77": 1.0}, "G": {"C01": 1.0}, "B": {"C01": 1.0}}}, "C77"),
        ({"target": {"R": {"C02": 1.0}, "G": {"C01": 1.0}}}, "R, G, B"),
        ({"target": {"R": {"C02": float("nan")}, "G": {"C01": 1}, "B": {"C01": 1}}}, "finite"),
        ({"target": {"R": {"C13": 1.0}, "G": {"C01": 1}, "B": {"C01": 1}}}, "both input"),
        ({"patch_size": 4}, "patch_size"),
        ({"ir_range": (330.0, 180.0)}, "low < high"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"day_mode": "scan"}, "day_mode"),
    ],
)
def test_bad_values_are_named(overrides, culprit):
    with pytest.raises(ValidationError, match=culprit):
        DataConfig(store=STORE, **overrides)


def test_renamed_key_is_read_for_one_release():
    """day_sza_max (80 deg, the visible target's daytime) is now target_sza_max."""
    with pytest.warns(FutureWarning, match="data.day_sza_max is renamed data.target_sza_max"):
        assert DataConfig(store=STORE, day_sza_max=70.0).target_sza_max == 70.0
    with pytest.raises(ValidationError, match="old name of data.target_sza_max"):
        DataConfig(store=STORE, day_sza_max=70.0, target_sza_max=80.0)
