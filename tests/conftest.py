"""Fixtures shared by all tests: real components brought up once per session (MPI, the real
samples, synthetic stores and archives, the Slurm test cluster, the S3 server)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hpc_vqvae.abi.synthetic import DEFAULT_BANDS
from tests.helpers.real import require_real, sample_files, samples_path
from tests.helpers.stores import build_store, preprocess_here, write_synthetic
from tests.helpers.training import cores_per_worker, run_trainer, train_env
from tests.s3_server import S3Server, S3Unavailable
from tests.slurm_cluster import ClusterUnavailable, SlurmCluster

# `make test` runs the suite on two pytest-xdist workers (--dist loadgroup). A test that needs
# one of these session fixtures runs on the worker that holds it, so the Slurm cluster and the
# trained tiny models are each brought up once; the first match wins. Every other test stays with
# the rest of its module, so that module fixtures are built once too.
SHARED_FIXTURES = ("slurm", "trained", "learned")
# The groups that take longest (README, "Slow tests") are handed out first, so that the two
# workers finish together rather than one waiting on a long test started last.
LONGEST_FIRST = ("learned", "slurm", "trained", "tests.test_demo")


def _group(item: pytest.Item) -> str:
    shared = (name for name in SHARED_FIXTURES if name in item.fixturenames)
    return next(shared, item.module.__name__ if item.module else item.nodeid)


def pytest_itemcollected(item: pytest.Item) -> None:
    """The group, marked as each test is collected: before xdist's own
    ``pytest_collection_modifyitems`` reads the mark into the test's id."""
    if item.config.pluginmanager.hasplugin("xdist"):  # not under pytest -p no:xdist
        item.add_marker(pytest.mark.xdist_group(_group(item)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """xdist groups by a suffix it writes into each test's id; with pytest 9.2 that write is
    lost (pytest-dev/pytest-xdist#1386) and the groups are silently spread over both workers:
    module fixtures are then built twice, and a test that reads what an earlier test of its
    module left on a module's server finds nothing. Refuse to run like that."""
    grouped = getattr(session.config.option, "loadgroup", False)  # set on xdist workers
    if grouped and session.items and "@" not in session.items[0].nodeid:
        raise pytest.UsageError(
            f"pytest {pytest.__version__} loses pytest-xdist's groups "
            "(pytest-dev/pytest-xdist#1386): install pytest<9.2 (pyproject.toml pins it)"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))


@pytest.fixture(autouse=True)
def _tracking_uri_restored():
    """``mlflow.set_tracking_uri`` also exports $MLFLOW_TRACKING_URI, for child processes: a
    test that calls it would otherwise send the runs of every later test to its backend."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(before)  # None unsets the variable as well
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
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


HANDOVER_DAYS = {"G17": ("2023-01-02", "2023-01-04"), "G18": ("2023-01-03", "2023-01-05")}


@pytest.fixture(scope="session")
def handover(tmp_path_factory) -> dict[str, Path]:
    """Synthetic G17 and G18 meso scans (18 and 20 UTC) on both sides of the GOES-West handover
    (2023-01-04), each satellite a day past it, as in NOAA's buckets; plus what a selection
    must leave out (C07, an M2 sector) and a Mode 3 scan of 2019. One tree per satellite."""
    root = tmp_path_factory.mktemp("handover")
    trees = {}
    for satellite, (first, last) in HANDOVER_DAYS.items():
        trees[satellite] = write_synthetic(
            root / satellite, first, last, 2, (18, 20), satellite=satellite,
            bands=(*DEFAULT_BANDS, 7),
        )  # fmt: skip
    write_synthetic(trees["G17"], "2023-01-03", "2023-01-03", 2, (18, 20), sector="M2")
    write_synthetic(trees["G17"], "2019-03-31", "2019-03-31", 2, (18, 20), mode=3)
    return trees


@pytest.fixture(scope="session")
def train_store(tmp_path_factory) -> Path:
    """Two days of daytime G17 M1 scans (17-23 UTC every 2 h): one trains, one validates."""
    return build_store(
        tmp_path_factory.mktemp("trainstore"), "2020-05-01", "2020-05-02", 2, tuple(range(17, 24))
    )


@dataclass(frozen=True)
class Learned:
    store: Path  # the demo's store
    run_dir: Path


@pytest.fixture(scope="session")
def learned(tmp_path_factory) -> Learned:
    """The tiny config trained by the real trainer in one process on what ``make demo``
    preprocesses (G17 M1, four days in each of 2019 and 2020, every 4 h), for 200 of the 500
    steps the demo trains: the generator alone, before its discriminator starts at 375 (what
    the suite can afford; at 200 steps it already beats both baselines, SSIM 0.87 against
    0.57). A few minutes on 2 idle cores; for the tests whose claim is about a trained model."""
    root = tmp_path_factory.mktemp("learned")
    for first, last in (("2019-06-01", "2019-06-04"), ("2020-06-01", "2020-06-04")):
        write_synthetic(root / "abi", first, last, 4)
    store = preprocess_here(root / "abi", root / "store.zarr", "2019-2020")
    overrides = [f"data.store={store}", "train.max_steps=200", "train.val_every=200"]
    overrides += ["train.log_every=100"]
    env = train_env(OMP_NUM_THREADS=str(cores_per_worker()))  # one process: every core it has
    run_trainer(1, "none", overrides, root / "run", env=env)
    return Learned(store, root / "run")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real two-node Slurm cluster on this machine (tests/slurm_cluster.py)."""
    require_real("Slurm test cluster", os.geteuid() == 0, "it runs munge/slurmd/slurmdbd as root")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.up()
    except ClusterUnavailable as err:
        cluster.down()
        require_real("Slurm test cluster", False, str(err))
    yield cluster
    cluster.down()


@dataclass(frozen=True)
class Buckets:
    url: str  # AWS_ENDPOINT_URL
    source: dict[str, Path]  # satellite -> the local tree its bucket was filled from


@pytest.fixture(scope="session")
def buckets(tmp_path_factory, handover) -> Buckets:
    """NOAA's ``noaa-goes17`` and ``noaa-goes18`` in miniature on a real S3 server (moto's, on
    loopback; tests/s3_server.py), filled with the handover archive as public-read objects."""
    server = S3Server(tmp_path_factory.mktemp("s3"))
    try:
        url = server.up()
    except S3Unavailable as err:
        require_real("S3 server (moto)", False, str(err))
    for satellite, tree in handover.items():
        server.fill(f"noaa-goes{satellite[1:]}", sorted(tree.rglob("*.nc")), tree)
    yield Buckets(url, handover)
    server.down()
