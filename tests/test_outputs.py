"""The one rule for replacing outputs and the lock that keeps two writers off one output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from hpc_vqvae import outputs
from hpc_vqvae.errors import UsageError
from hpc_vqvae.outputs import Lock, check_replaceable, remove


def _ours(path):
    return (path / "MARK").exists()


def test_only_our_outputs_or_empty_folders_are_replaced(tmp_path):
    assert check_replaceable(tmp_path / "new", "--out", False, _ours) is False
    (tmp_path / "empty").mkdir()
    assert check_replaceable(tmp_path / "empty", "--out", False, _ours) is False
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "MARK").touch()
    with pytest.raises(UsageError, match="pass --overwrite"):
        check_replaceable(mine, "--out", False, _ours)
    assert check_replaceable(mine, "--out", True, _ours) is True
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").touch()
    for overwrite in (False, True):
        with pytest.raises(UsageError, match="did not write") as err:
            check_replaceable(theirs, "--out", overwrite, _ours)
        assert "--overwrite" not in str(err.value)
    with pytest.raises(RuntimeError):
        remove(theirs, _ours)
    remove(mine, _ours)
    assert not mine.exists() and (theirs / "thesis.tex").exists()


def _write_lock(lock: Lock, **holder) -> None:
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    lock.path.write_text(json.dumps({"since": "earlier", **holder}))


def test_lock_refuses_a_live_writer_and_takes_over_a_gone_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    lock = Lock(tmp_path / "out.zarr", "--output")
    host = socket.gethostname()
    _write_lock(lock, host=host, pid=os.getppid())  # alive: the test runner's parent
    with pytest.raises(UsageError, match=f"{host} pid {os.getppid()}"):
        lock.acquire()
    _write_lock(lock, host="elsewhere", pid=1)  # another host: cannot tell, so refused
    with pytest.raises(UsageError, match="elsewhere"):
        lock.acquire()
    _write_lock(lock, host="elsewhere", pid=1, job="77")
    monkeypatch.setenv("SLURM_JOB_ID", "77")  # a requeued run of the same job
    with lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not lock.path.exists()
    monkeypatch.delenv("SLURM_JOB_ID")
    dead = 2**22 + 12345  # above Linux's pid_max default, so no such process
    _write_lock(lock, host=host, pid=dead)
    with lock:
        pass
    assert not lock.path.exists()


def test_plots_are_redrawn_over_ours_only(tmp_path):
    """evaluate's and compare's --plot: a user's file there is refused before any work, in
    one line, and left as it was; a plot of ours is simply redrawn."""
    from hpc_vqvae.compare import plot

    users = tmp_path / "figure.png"
    users.write_bytes(b"\x89PNG a user's own figure")
    commands = {
        "evaluate": ["--checkpoint", tmp_path / "none", "--store", tmp_path / "none.zarr"],
        "compare": ["--experiment", "x", "--tracking-uri", f"sqlite:///{tmp_path}/none.db"],
    }
    for module, args in commands.items():
        cmd = [sys.executable, "-m", f"hpc_vqvae.{module}", *map(str, args), "--plot", users]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert "not a plot of hpc-vqvae" in lines[0] and str(users) in lines[0]
        assert users.read_bytes() == b"\x89PNG a user's own figure"
    ours = tmp_path / "curves.png"
    plot([{"name": "a", "metrics": {"m": {"steps": [1, 2], "values": [3.0, 2.0]}}}], ["m"], ours)
    outputs.check_plot(ours)  # no error: ours, to be redrawn
    with pytest.raises(UsageError, match="not a plot"):
        outputs.check_plot(users)
