"""A range predicted by several ranks (real mpiexec, gloo) into one store: the same store as one
rank writes, and a killed run resumed to that same store."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from hpc_vqvae.predict.shards import (
    DONE,
    Request,
    done_marks,
    lay_out_marks,
    my_shards,
    n_shards,
)
from hpc_vqvae.world import free_port
from tests.helpers.real import REPO
from tests.helpers.slurm import job_env, slurm_cmd, wait_for_job
from tests.helpers.training import train_env

PREDICT_SCRIPT = REPO / "slurm" / "predict.sh"

# every scan of the store (8, over two days), one scan per shard
RANGE = ["--start", "2020-05-01", "--end", "2020-05-02", "--batch-size", "1"]
STAMPED = ("history", "date_created")  # when it was made, so never equal between two runs


def test_shards_go_round_robin_and_done_ones_are_skipped():
    assert n_shards(8, 3) == 3 and n_shards(9, 3) == 3 and n_shards(1, 8) == 1
    done = np.zeros(7, bool)
    assert my_shards(done, 0, 2) == [0, 2, 4, 6] and my_shards(done, 1, 2) == [1, 3, 5]
    done[[0, 3, 4]] = True
    assert my_shards(done, 0, 2) == [2, 6] and my_shards(done, 1, 2) == [1, 5]
    assert my_shards(done, 0, 1) == [1, 2, 5, 6]


def test_marks_are_one_row_per_rank_and_laid_out_again_for_other_ranks(tmp_path):
    """Each rank marks its shards in its own chunk (no two ranks write one object), nothing is
    written for a shard not done, and a resume on another number of ranks keeps every mark."""
    request = Request("ckpt", "store", "a", "b", 70, 10, False)
    path = tmp_path / "partial.zarr"
    zarr.open_group(path, mode="w")
    done = np.zeros(7, bool)
    lay_out_marks(path, done, 2, request)
    marks = zarr.open_group(path, mode="r")[DONE]
    assert marks.shape == (2, 4) and marks.chunks == (1, 4) and marks.nchunks_initialized == 0
    done[[0, 3, 4]] = True
    lay_out_marks(path, done, 2, request)
    np.testing.assert_array_equal(
        zarr.open_group(path, mode="r")[DONE][:],
        [[1, 0, 1, 0], [0, 1, 0, 0]],  # shards 0 2 4 6 | 1 3 5
    )
    np.testing.assert_array_equal(done_marks(path), done)
    lay_out_marks(path, done_marks(path), 3, request)  # resumed on three ranks
    np.testing.assert_array_equal(done_marks(path), done)
    assert zarr.open_group(path, mode="r")[DONE].attrs["request"]["scans"] == 70
    group = zarr.open_group(path, mode="r+")  # one mark a shard, as earlier versions wrote
    del group[DONE]
    group.create_array(DONE, shape=(7,), dtype="bool")[:] = done
    np.testing.assert_array_equal(done_marks(path), done)


def _cmd(trained, out: Path) -> list[str]:
    args = ["--checkpoint", trained.run_dir, "--store", trained.store, *RANGE, "--output", out]
    return [sys.executable, "-m", "hpc_vqvae.predict", *map(str, args)]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = train_env(MASTER_PORT=str(free_port()))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def one_rank(trained, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "night.zarr"
    _run(_cmd(trained, out))
    return out


def _assert_same_store(got: Path, want: Path) -> None:
    a, b = xr.open_zarr(got), xr.open_zarr(want)
    assert a.sizes["time"] == 8
    a.attrs = {k: v for k, v in a.attrs.items() if k not in STAMPED}
    b.attrs = {k: v for k, v in b.attrs.items() if k not in STAMPED}
    xr.testing.assert_identical(a.load(), b.load())  # every value, coordinate and attribute
    assert np.isfinite(a.R).any()
    assert DONE not in zarr.open_group(got, mode="r"), "the shard marks are gone"
    assert [p.name for p in got.parent.iterdir()] == [got.name], "nothing else left behind"


@pytest.mark.slow
@pytest.mark.mpi
@pytest.mark.deepspeed
def test_two_ranks_write_the_store_one_rank_writes(trained, one_rank, tmp_path, mpiexec):
    out = tmp_path / "night.zarr"
    proc = _run([mpiexec, "-n", "2", *_cmd(trained, out)])
    assert "2 rank(s)" in proc.stdout
    _assert_same_store(out, one_rank)


@pytest.mark.slow
@pytest.mark.deepspeed
def test_a_killed_run_resumes_to_the_same_store(trained, one_rank, tmp_path):
    out = tmp_path / "night.zarr"
    partial = tmp_path / ".night.zarr.partial"
    env = train_env(MASTER_PORT=str(free_port()))
    proc = subprocess.Popen(_cmd(trained, out), env=env, stderr=subprocess.DEVNULL)
    deadline, done = time.monotonic() + 300, 0
    while time.monotonic() < deadline and proc.poll() is None and done < 2:
        try:
            done = int(zarr.open_group(partial, mode="r", use_consolidated=False)[DONE][:].sum())
        except Exception:  # noqa: BLE001 (not there yet)
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 8 and not out.exists() and partial.is_dir(), (done, proc.returncode)

    again = _run(_cmd(trained, out))
    assert "resuming" in again.stderr and "of 8 shard(s) done" in again.stderr
    _assert_same_store(out, one_rank)


@pytest.mark.slow
@pytest.mark.slurm
@pytest.mark.deepspeed
def test_slurm_predict_script_on_two_nodes(slurm, trained, one_rank, tmp_path):
    """``sbatch slurm/predict.sh`` on the two-node test cluster (one task a node, srun)."""
    out = tmp_path / "out" / "night.zarr"
    env = job_env(slurm, PYTHON=sys.executable, CHECKPOINT=str(trained.run_dir))
    env.update(STORE=str(trained.store), START="2020-05-01", END="2020-05-02", OUTPUT=str(out))
    env.update(BATCH_SIZE="1")
    (tmp_path / "logs").mkdir()
    flags = ["--nodes=2", "--ntasks-per-node=1", "--gpus-per-node=0", "--cpus-per-task=1"]
    submitted = slurm_cmd(env, "sbatch", *flags, str(PREDICT_SCRIPT), cwd=tmp_path)
    job = re.search(r"Submitted batch job (\d+)", submitted).group(1)
    state = wait_for_job(env, job, timeout=600)
    log = next((tmp_path / "logs").glob(f"*-{job}.out")).read_text()
    assert state == "COMPLETED", log[-3000:]
    assert "2 rank(s)" in log
    _assert_same_store(out, one_rank)


def test_slurm_predict_script_names_what_it_needs(tmp_path):
    env = train_env(CHECKPOINT="runs/x", STORE="s.zarr", START="2020-05-01", END="2020-05-02")
    proc = subprocess.run(["bash", str(PREDICT_SCRIPT)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: slurm/predict.sh needs OUTPUT (see the head of the script)"
    ]
