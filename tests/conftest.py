"""Fixtures shared by all tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import require_real, sample_files, samples_path


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
