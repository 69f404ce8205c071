"""Fixtures shared by all tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import build_store, require_real, sample_files, samples_path


@pytest.fixture
def mpiexec() -> str:
    """Path of the ``mpiexec`` on PATH (``make test`` puts the venv's bin first)."""
    path = shutil.which("mpiexec")
    require_real("MPI", path is not None, "mpiexec not on PATH")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real samples' folder; fails under CI (skips elsewhere) when they are missing."""
    path = samples_path()
    require_real("ABI sample files", bool(sample_files()), f"no ABI samples in {path}")
    return path


@pytest.fixture(scope="session")
def train_store(tmp_path_factory) -> Path:
    """Two days of daytime G17 M1 scans (17-23 UTC every 2 h): one trains, one validates."""
    return build_store(
        tmp_path_factory.mktemp("trainstore"), "2020-05-01", "2020-05-02", 2, tuple(range(17, 24))
    )
