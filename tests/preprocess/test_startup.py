"""How the stage starts MPI: OFI instead of UCX where Slurm's PMI server would split UCX's long
PMI lines (the launch itself is tested in tests/launch/test_preprocess_job.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpc_vqvae.preprocess.startup import NETMOD_VAR, pmi_safe_netmod

PYPI_MPICH = "MPICH Version:      5.0.2\nMPICH Device:       ch4:ucx ofi\n"  # the PyPI wheel
SRUN_PMI2 = {"SLURM_MPI_TYPE": "pmi2", "PMI_FD": "11", "PMI_RANK": "0"}


@pytest.mark.parametrize(
    ("env", "library", "expected"),
    [
        (SRUN_PMI2, PYPI_MPICH, "ofi"),
        ({**SRUN_PMI2, NETMOD_VAR: "ucx"}, PYPI_MPICH, None),  # the user's choice stands
        ({"PMI_FD": "9", "HYDI_CONTROL_FD": "7"}, PYPI_MPICH, None),  # mpiexec (Hydra)
        ({"SLURM_MPI_TYPE": "pmix", "PMIX_RANK": "0"}, PYPI_MPICH, None),
        ({}, PYPI_MPICH, None),  # no launcher
        (SRUN_PMI2, PYPI_MPICH.replace("ch4:ucx ofi", "ch4:ofi"), None),  # OFI already
        (SRUN_PMI2, PYPI_MPICH.replace("ch4:ucx ofi", "ch4:ucx"), None),  # nothing to switch to
        (SRUN_PMI2, "Open MPI v5.0.8, package: Open MPI", None),
    ],
)
def test_netmod_choice(env, library, expected):
    assert pmi_safe_netmod(env, library) == expected


def _python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_installed_mpich_would_switch_under_srun_pmi2():
    """The version string of the MPI that mpi4py really loads parses as UCX + OFI."""
    code = (
        "import mpi4py; mpi4py.rc.initialize = False\n"
        "from mpi4py import MPI\n"
        "from hpc_vqvae.preprocess.startup import pmi_safe_netmod\n"
        f"print(pmi_safe_netmod({SRUN_PMI2!r}, MPI.Get_library_version()))\n"
    )
    assert _python(code) == "ofi"


def test_start_mpi_outside_slurm_starts_once_and_leaves_the_netmod():
    code = (
        "import os\n"
        "from hpc_vqvae.preprocess.startup import NETMOD_VAR, start_mpi\n"
        "comm = start_mpi()\n"
        "print(comm.size, start_mpi() == comm, os.environ.get(NETMOD_VAR))\n"
    )
    assert _python(code) == "1 True None"
