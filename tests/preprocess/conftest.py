"""A synthetic archive over the turn of 2019/2020 and a config of small shards, shared by the
stage's tests."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.abi.synthetic.sectors import scan_times
from tests.helpers.real import REPO

START, END = (2019, 12, 31), (2020, 1, 1)  # two years, 16 scans every 3 h


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """A synthetic G17 M1 archive spanning the turn of 2019/2020: 8 scans in each year."""
    root = tmp_path_factory.mktemp("abi")
    start = datetime(*START)
    end = datetime(*END) + timedelta(days=1, microseconds=-1)
    spec = ArchiveSpec(root=root, start=start, end=end, every=timedelta(hours=3))
    assert len(scan_times(start, end, "M1", spec.every, None)) == 16
    write_archive(spec)
    return root


@pytest.fixture(scope="session")
def config_file(tmp_path_factory) -> Path:
    """Small shards (3 scans) in blocks of two (6 scans), so that a 16-scan store has several
    of each, partial ones too, and two ranks share them."""
    path = tmp_path_factory.mktemp("cfg") / "preprocess.yaml"
    text = (REPO / "configs" / "preprocess.yaml").read_text()
    small = {
        "scans_per_shard: null": "scans_per_shard: 3",
        "scans_per_block: null": "scans_per_block: 6",
    }
    for default, value in small.items():
        text = text.replace(default, value)
    path.write_text(text)
    return path
