"""``sbatch preprocessing/preprocess.sbatch`` on the real two-node Slurm cluster: srun starts
the MPI ranks (PyPI MPICH through Slurm's PMI-2), one per node, and the store equals a
one-process run's; MPICH's own mpiexec (Hydra) inside the allocation works too. Without the MPI
plugin srun would start singletons that each write the whole store: they refuse, naming the
fix, and write nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import xarray as xr

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from tests.helpers.real import REPO
from tests.helpers.slurm import job_env, slurm_cmd, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.mpi]

JOB_SCRIPT = REPO / "preprocessing" / "preprocess.sbatch"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, Path]:
    """Four meso scans of 2020 and a config with shards of two: one shard per rank."""
    root = tmp_path_factory.mktemp("abi")
    start = datetime(2020, 6, 1)
    spec = ArchiveSpec(
        root=root, start=start, end=start + timedelta(hours=18), every=timedelta(hours=6)
    )
    write_archive(spec)
    config = root / "preprocess.yaml"
    text = (REPO / "configs" / "preprocess.yaml").read_text()
    config.write_text(text.replace("scans_per_shard: null", "scans_per_shard: 2"))
    return root, config


def _load(store: Path) -> xr.Dataset:
    with xr.open_zarr(store, consolidated=False) as ds:
        return ds.load()


def _sbatch(slurm, cwd: Path, archive: tuple[Path, Path], **extra: str) -> tuple[str, str, str]:
    """(state, log, the srun step's "NTasks|NodeList") of the job script on 2 nodes x 1 task."""
    root, config = archive
    env = job_env(
        slurm, YEARS="2020", ARCHIVE=str(root), OUTPUT=str(cwd / "abi.zarr"), CONFIG=str(config),
        PYTHON=sys.executable, **extra,
    )  # fmt: skip
    (cwd / "logs").mkdir()  # Slurm opens the job's log there before the script runs
    # The job takes seconds: a short limit makes a hung MPI start fail the test in minutes.
    flags = ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", "--time=3"]
    out = slurm_cmd(env, "sbatch", *flags, str(JOB_SCRIPT), cwd=cwd)
    job = re.search(r"Submitted batch job (\d+)", out).group(1)
    state = wait_for_job(env, job, timeout=300)
    step = slurm_cmd(env, "sacct", "-n", "-P", "-j", f"{job}.0", "-o", "NTasks,NodeList")
    return state, (cwd / "logs" / f"preprocess-{job}.out").read_text(), step.strip()


def test_srun_with_pmi2_runs_two_ranks_on_two_nodes(slurm, archive, tmp_path):
    state, log, step = _sbatch(slurm, tmp_path, archive, SRUN_MPI="pmi2")
    assert state == "COMPLETED", log[-3000:]
    assert step == "2|n[1-2]"
    assert "mpi/pmi2" not in log, log[-3000:]  # no PMI request split by Slurm's server
    report = json.loads((tmp_path / "abi.zarr.report.json").read_text())
    assert report["ranks"] == 2 and report["written"] == 4, report
    root, config = archive
    one = tmp_path / "one.zarr"
    cmd = [sys.executable, "-m", "hpc_vqvae.preprocess", "--years", "2020", "--archive"]
    cmd += [str(root), "--output", str(one), "--config", str(config)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    xr.testing.assert_identical(_load(tmp_path / "abi.zarr"), _load(one))


def test_mpich_hydra_under_slurm_takes_the_allocation(slurm, archive, tmp_path):
    """LAUNCHER=mpiexec: Hydra starts one proxy per node through srun and serves PMI itself."""
    state, log, step = _sbatch(slurm, tmp_path, archive, LAUNCHER="mpiexec")
    assert state == "COMPLETED", log[-3000:]
    assert step == "2|n[1-2]"  # the proxies' step, one task per node
    report = json.loads((tmp_path / "abi.zarr.report.json").read_text())
    assert report["ranks"] == 2 and report["written"] == 4, report


def test_srun_without_the_mpi_plugin_refuses_and_writes_nothing(slurm, archive, tmp_path):
    """Each singleton checks on its own (they share no communicator), and the first to refuse
    makes srun (--kill-on-bad-exit) end the other, maybe before it got as far: at least one
    task says why, each in one line, and no task got as far as writing."""
    state, log, step = _sbatch(slurm, tmp_path, archive)  # the cluster's MpiDefault=none
    assert state == "FAILED" and step == "2|n[1-2]"
    errors = [ln for ln in log.splitlines() if "srun started" in ln]
    assert 1 <= len(errors) <= 2, log  # one a task, or one when srun ended the other first
    for line in errors:
        assert line.startswith("error: srun started 2 tasks but MPI sees a job of 1 rank"), log
        assert "--mpi=pmi2" in line, log
    assert "Traceback" not in log
    assert not (tmp_path / "abi.zarr").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["logs"], "no lock, no report, no store"
