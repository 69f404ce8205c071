"""MPI really starts several ranks that see each other."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

SCRIPT = (
    "from mpi4py import MPI\n"
    "comm = MPI.COMM_WORLD\n"
    "print(f'rank={comm.Get_rank()} size={comm.Get_size()}', flush=True)\n"
)


@pytest.mark.mpi
@pytest.mark.timeout(150)
def test_mpiexec_starts_two_ranks(mpiexec: str) -> None:
    result = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"mpiexec failed:\n{result.stdout}\n{result.stderr}"
    # mpiexec forwards each rank's output as it comes: lines of two ranks may interleave.
    answers = sorted(re.findall(r"rank=(\d+) size=(\d+)", result.stdout))
    assert answers == [("0", "2"), ("1", "2")], (
        f"expected ranks 0 and 1 of size 2, got:\n{result.stdout}\n{result.stderr}"
    )
