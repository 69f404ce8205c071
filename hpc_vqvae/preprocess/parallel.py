"""MPI plumbing: dealing blocks of scans to ranks, one progress bar for the whole job, clean
aborts."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from mpi4py import MPI
from tqdm import tqdm

from ..errors import LaunchError

_PROGRESS, _FINAL = 11, 12


def check_launch(comm: MPI.Comm) -> None:
    """Refuse N singletons. srun without the MPI plugin that the MPI library expects starts
    N processes that each see an MPI job of one rank: each would write the whole store."""
    tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS", "1"))
    if comm.size == 1 and tasks > 1:
        raise LaunchError(
            f"srun started {tasks} tasks but MPI sees a job of 1 rank in each: srun needs the "
            "plugin this MPI library expects, e.g. srun --mpi=pmi2 or --mpi=pmix (`srun "
            "--mpi=list`; SRUN_MPI=... for preprocessing/preprocess.sbatch)"
        )


def deal(loads: dict[int, int], size: int) -> list[list[int]]:
    """Units of work (blocks of scans) -> ranks, heaviest first onto the least-loaded rank
    (deterministic)."""
    owned: list[list[int]] = [[] for _ in range(size)]
    total = [0] * size
    for shard, load in sorted(loads.items(), key=lambda kv: (-kv[1], kv[0])):
        rank = min(range(size), key=lambda r: (total[r], r))
        owned[rank].append(shard)
        total[rank] += load
    return [sorted(s) for s in owned]


class Progress:
    """Rank 0 draws one bar of scans done on all ranks; the others report to it."""

    def __init__(self, comm: MPI.Comm, total: int, desc: str):
        self.comm = comm
        self.requests: list[MPI.Request] = []
        self.bar = (
            tqdm(total=total, desc=desc, unit="scan", file=sys.stderr) if comm.rank == 0 else None
        )
        self.finished = 1  # rank 0 itself

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self._drain()
        else:
            self.requests.append(self.comm.isend(n, dest=0, tag=_PROGRESS))

    def _drain(self, block: bool = False) -> None:
        status = MPI.Status()
        while (block and self.finished < self.comm.size) or self.comm.iprobe(
            source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status
        ):
            msg = self.comm.recv(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status)
            if status.Get_tag() == _PROGRESS:
                self.bar.update(msg)
            else:
                self.finished += 1

    def close(self) -> None:
        """Every rank calls this when its own work is done; rank 0 waits for the others."""
        if self.bar is None:
            self.requests.append(self.comm.isend(0, dest=0, tag=_FINAL))
            MPI.Request.Waitall(self.requests)
        else:
            self._drain(block=True)
            self.bar.close()


def run_or_abort(main: Callable[[], int]) -> int:
    """Like ``python -m mpi4py``: an uncaught exception on one rank aborts all of them,
    instead of leaving the others waiting forever at a barrier."""
    comm = MPI.COMM_WORLD
    try:
        return main()
    except SystemExit:
        raise
    except BaseException as err:
        # One write, the cause first: at MPI_Abort the launcher kills every rank and may
        # forward no more of this rank's output than it has already read (seen: the first
        # line of a traceback written line by line).
        cause = f"rank {comm.rank}: {type(err).__name__}: {err}\n"
        sys.stderr.write(cause + traceback.format_exc())
        sys.stderr.flush()
        if comm.size > 1:
            comm.Abort(1)
        raise
