"""A real two-node Slurm cluster (tests/slurm_cluster.py) for the session."""

from __future__ import annotations

import os

import pytest

from tests.helpers import require_real
from tests.slurm_cluster import ClusterUnavailable, SlurmCluster


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    require_real("Slurm test cluster", os.geteuid() == 0, "it runs munge/slurmd/slurmdbd as root")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.up()
    except ClusterUnavailable as err:
        cluster.down()
        require_real("Slurm test cluster", False, str(err))
    yield cluster
    cluster.down()
