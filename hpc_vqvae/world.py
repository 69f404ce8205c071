"""Who am I in the job, and the process group: torchrun, Slurm (srun), MPI (mpiexec), or a
single process without any launcher. NCCL on GPUs, gloo on CPUs. (The collectives the stages
use once the group is up are in ``hpc_vqvae.distributed``.) It sits below every stage because
training, prediction and evaluation all start their ranks the same way, and inference must not
import the trainer to do so.

MASTER_ADDR/MASTER_PORT are always set explicitly: under mpiexec DeepSpeed's own discovery
picks a non-loopback interface, which fails on machines that only route loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int
    launcher: str  # torchrun, submitit, slurm, mpi or none
    local_size: int = 1  # ranks on this node that share its cores (see _local_size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _first(*names: str) -> str | None:
    return next((os.environ[n] for n in names if n in os.environ), None)


def _local_size() -> int:
    """Ranks on this node, as torchrun, Open MPI or MPICH/Hydra count them. srun exports no
    such count, and needs none: each task is bound to its own share of the cores, so an srun
    task counts as one (and so does a single process)."""
    for name in ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(name, "").isdigit():
            return max(1, int(os.environ[name]))
    return 1


def _slurm_master() -> str:
    nodes = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    if nodes:
        try:
            out = subprocess.run(
                ["scontrol", "show", "hostnames", nodes],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            return out.stdout.split()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return nodes.split(",")[0].split("[")[0]
    return "127.0.0.1"


def detect() -> World:
    """Rank, size, local rank and node mates from whichever launcher started us (torchrun
    first)."""
    return replace(_launched(), local_size=_local_size())


def _launched() -> World:
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return World(
            int(os.environ["RANK"]),
            int(os.environ["WORLD_SIZE"]),
            int(os.environ.get("LOCAL_RANK", 0)),
            os.environ.get("HPC_VQVAE_LAUNCHER", "torchrun"),  # submitit exports the same
        )
    if "SLURM_PROCID" in os.environ and int(os.environ.get("SLURM_NTASKS", 1)) > 1:
        return World(
            int(os.environ["SLURM_PROCID"]),
            int(os.environ["SLURM_NTASKS"]),
            int(os.environ.get("SLURM_LOCALID", 0)),
            "slurm",
        )
    rank = _first("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
    size = _first("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
    if rank is not None and size is not None and int(size) > 1:
        local = _first("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID") or "0"
        return World(int(rank), int(size), int(local), "mpi")
    return World(0, 1, 0, "none")


def _master_address(world: World) -> str:
    if world.launcher == "slurm":
        return _slurm_master()
    if world.launcher == "mpi":  # rank 0's host name, shared through MPI itself
        from mpi4py import MPI

        return MPI.COMM_WORLD.bcast(socket.gethostname() if world.rank == 0 else None, root=0)
    return "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback that is free now: the one helper for a group of one, the
    tests' servers and the benchmarks' launches."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(world: World, engines: bool = True) -> str:
    """Export the torch.distributed variables and start the process group; returns the device.
    ``engines``: through DeepSpeed (training); else torch.distributed alone (evaluation, whose
    stdout must stay its own)."""
    default_port = 29500 + int(os.environ.get("SLURM_JOB_ID", 0)) % 20000
    if world.size == 1:  # a group of one: any free port, so that two such runs never collide
        default_port = free_port()
    os.environ.setdefault("MASTER_ADDR", _master_address(world) if world.size > 1 else "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(default_port))
    os.environ.update(
        RANK=str(world.rank),
        WORLD_SIZE=str(world.size),
        LOCAL_RANK=str(world.local_rank),
        LOCAL_SIZE=os.environ.get("LOCAL_SIZE", "1"),
    )
    cuda = torch.cuda.is_available() and os.environ.get("DS_ACCELERATOR", "cuda") != "cpu"
    if cuda:
        torch.cuda.set_device(world.local_rank % torch.cuda.device_count())
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        if engines:
            import deepspeed

            deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False)
            _unlink_shm_workspace(world)
        else:
            dist.init_process_group(backend)
    return f"cuda:{torch.cuda.current_device()}" if cuda else "cpu"


def _unlink_shm_workspace(world: World) -> None:
    """DeepSpeed on CPU maps a 66 MB /dev/shm workspace per rank (its shm all-reduce, for
    inference) and never unlinks it: every run on a node left one in RAM-backed /dev/shm.
    Once every rank has mapped its peers' (on return from init_distributed), each rank
    unlinks its own name; the mappings stay valid until the process exits."""
    name = "_".join(
        [
            "deepspeed_allreduce_buffer",
            str(os.getuid()),
            os.environ.get("MASTER_ADDR", ""),
            os.environ.get("MASTER_PORT", ""),
            str(world.rank),
        ]
    )
    if world.size > 1:
        dist.barrier()  # every peer has opened it (a barrier on every rank, file or not)
    (Path("/dev/shm") / name).unlink(missing_ok=True)  # none on GPUs or across nodes
