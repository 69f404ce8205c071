import os
from pathlib import Path

import pytest

from tests.helpers import require_real

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real GOES-17 L1b files in ../shared/abi-samples (or $HPC_VQVAE_SAMPLES)."""
    path = Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))
    files = sorted(path.glob("OR_ABI-L1b-*.nc"))
    require_real("ABI sample files", bool(files), f"no ABI samples in {path}")
    return path


def sample_files() -> list[Path]:
    path = Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))
    return sorted(path.glob("OR_ABI-L1b-*.nc"))
