"""Who a process is in the job, whichever launcher started it: the world below every stage."""

import socket

from hpc_vqvae.world import detect, free_port


def test_cpu_ranks_count_their_node_mates(monkeypatch):
    """Each CPU rank takes cores / ranks on its node: as torchrun, Open MPI and MPICH say
    (``predict`` divides the cores by ``local_size``)."""
    for name in ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert detect().local_size == 1
    monkeypatch.setenv("MPI_LOCALNRANKS", "2")
    assert detect().local_size == 2
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert detect().local_size == 4


def test_torchrun_s_world_with_its_node_mates(monkeypatch):
    for name in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "HPC_VQVAE_LAUNCHER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    world = detect()
    assert (world.rank, world.size, world.local_rank, world.local_size) == (3, 4, 1, 2)
    assert world.launcher == "torchrun" and not world.is_main


def test_free_port_is_free():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # no OSError: nobody holds it


def test_deepspeed_s_cpu_workspace_leaves_no_file_in_dev_shm(tmp_path):
    """DeepSpeed's CPU backend maps a /dev/shm workspace per rank and never unlinks it: every
    run left 66 MB of RAM behind. ``setup`` unlinks it once mapped; the op itself is built."""
    import os
    import subprocess
    import sys

    port = free_port()
    code = (
        "import os, pathlib, deepspeed.comm as c\n"
        "from hpc_vqvae.world import detect, setup\n"
        "setup(detect())\n"
        "print(c.comm.cdb.shm_comm_op is not None)\n"
        "port = os.environ['MASTER_PORT']\n"
        "print(sorted(p.name for p in pathlib.Path('/dev/shm').glob(f'*_{port}_*')))\n"
    )
    env = {
        **os.environ,
        "DS_ACCELERATOR": "cpu",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }
    env.pop("HPC_VQVAE_LAUNCHER", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[-2:] == ["True", "[]"], out
