"""A small real store for the data stage: 3 days of G17 M1 scans every 3 h (24 scans: day,
night and terminator scans), written by the synthetic archive and the preprocessing stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpc_vqvae.data import DataConfig
from tests.helpers.stores import build_store


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    """3 days of G17 M1 scans every 3 h (24 scans: day, night and terminator)."""
    return build_store(tmp_path_factory.mktemp("data"), "2020-06-01", "2020-06-03", 3)


@pytest.fixture
def make_cfg(store):
    """DataConfig on the test store; small crops and epochs unless a test says otherwise."""

    def make(**overrides) -> DataConfig:
        settings = {
            "store": store,
            "patch_size": 64,
            "samples_per_epoch": 32,
            # 3 days: the last one validates, nothing held out for tests
            "val_fraction": 0.2,
            "test_fraction": 0.0,
            "split_blocks": 1,
            "buffer_days": 0,
            **overrides,
        }
        return DataConfig(**settings)

    return make
