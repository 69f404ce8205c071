"""Starting MPI for the stage: the one place that decides how mpi4py initialises.

Under ``srun --mpi=pmi2`` Slurm's PMI server (its pmi2 plugin, also serving the PMI-1 wire
protocol that MPICH's built-in client speaks) reads each request with one read of at most
1024 bytes. MPICH's UCX netmod publishes its multi-kB worker address as PMI values of up to
1024 characters, so a request line (command + key + value) can exceed that: the server splits
it, misparses both halves ("value not properly terminated", "request not begin with 'cmd='"),
and MPI_Init aborts or hangs. Whether a line is too long depends on the heap garbage in the
address's padding (MPICH run-length encodes it), so a small script passes and a real program,
which has touched more memory by then, may fail: the stage under srun failed 5 runs in 13
here, and hung one CI run until the job's time limit (with OFI: 30 runs in 30 passed).
The PyPI MPICH also has the OFI netmod, whose address is a 16-byte sockaddr, well inside one
line; this stage's messages are small, so the netmod costs nothing measurable either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mpi4py import MPI

NETMOD_VAR = "MPIR_CVAR_CH4_NETMOD"


def pmi_safe_netmod(env: Mapping[str, str], library_version: str) -> str | None:
    """``"ofi"`` where MPICH would otherwise send UCX addresses through Slurm's PMI server,
    else None: another launcher, another MPI, a UCX-only MPICH, or the user's own choice."""
    slurm_pmi = env.get("SLURM_MPI_TYPE", "").startswith("pmi2") and "PMI_FD" in env
    if not slurm_pmi or NETMOD_VAR in env:
        return None
    device = re.search(r"^MPICH Device:\s*ch4:(.*)$", library_version, re.MULTILINE)
    netmods = set(re.split(r"[\s,]+", device.group(1).strip())) if device else set()
    return "ofi" if {"ucx", "ofi"} <= netmods else None


def start_mpi() -> MPI.Comm:
    """Initialise MPI once (choosing the netmod first, see the module doc) and return
    COMM_WORLD; finalised at exit as mpi4py would. A no-op if MPI is already running."""
    import mpi4py

    mpi4py.rc.initialize = False  # only effective before the first import of mpi4py.MPI
    mpi4py.rc.finalize = True
    from mpi4py import MPI

    if not MPI.Is_initialized():
        netmod = pmi_safe_netmod(os.environ, MPI.Get_library_version())
        if netmod is not None:
            os.environ[NETMOD_VAR] = netmod  # MPICH reads its CVARs in MPI_Init
        MPI.Init_thread()
    return MPI.COMM_WORLD
