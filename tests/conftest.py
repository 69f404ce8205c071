"""Fixtures shared by all tests."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import require_real


@pytest.fixture
def mpiexec() -> str:
    """Path of the ``mpiexec`` on PATH (``make test`` puts the venv's bin first)."""
    path = shutil.which("mpiexec")
    require_real("MPI", path is not None, "mpiexec not on PATH")
    assert path is not None
    return path
