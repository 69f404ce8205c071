"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_REAL_ENV = "HPC_VQVAE_REQUIRE_REAL"


def require_real(component: str, available: bool, reason: str) -> None:
    """Insist on a real component (MPI, a file, a tool) for the calling test.

    If ``available`` is false the test is skipped with ``reason``, except when
    ``HPC_VQVAE_REQUIRE_REAL=1`` (set by CI in ``.ci/run``): then it fails, so
    that a missing real component can never pass CI as a silent skip.

    Example::

        require_real("MPI", shutil.which("mpiexec") is not None, "mpiexec not on PATH")
    """
    if available:
        return
    message = f"{component} not available: {reason}"
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_REAL_ENV}=1 requires it)", pytrace=False)
    pytest.skip(message)


REPO = Path(__file__).resolve().parents[1]


def samples_path() -> Path:
    """The real GOES-17 L1b samples: ../shared/abi-samples, or $HPC_VQVAE_SAMPLES."""
    return Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))


def sample_files() -> list[Path]:
    return sorted(samples_path().glob("OR_ABI-L1b-*.nc"))


def build_store(
    root: Path,
    first_day: str,
    last_day: str,
    every_hours: int,
    hours: tuple[int, ...] | None = None,
) -> Path:
    """A synthetic G17 M1 archive under root/abi, preprocessed in this process into
    root/store.zarr: the real stages, at test size."""
    from datetime import date, datetime, time, timedelta

    from mpi4py import MPI

    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
    from hpc_vqvae.preprocess import load_config, run

    start = datetime.combine(date.fromisoformat(first_day), time())
    end = datetime.combine(date.fromisoformat(last_day), time(23, 59))
    spec = ArchiveSpec(
        root=root / "abi", start=start, end=end, every=timedelta(hours=every_hours), hours=hours
    )
    write_archive(spec)
    years = ",".join(str(y) for y in range(start.year, end.year + 1))
    out = root / "store.zarr"
    run(load_config(None, {"archive": root / "abi", "output": out, "years": years}), MPI.COMM_WORLD)
    return out
