"""The run dir as an output: whose it is, who writes it now, and what --overwrite may clear.

A run dir is ours when it holds the run's record (``runs.layout.is_run_dir``), written before
anything else the run puts there; an empty folder is free; anything else is a user's and
refused. ``--overwrite`` clears the entries a run writes (``runs.layout.WRITTEN``) and nothing
else, so a user's file put beside them survives. The
verdict is rank 0's, taken once the process group is up and broadcast, so that every rank of a
job starts, or stops with the same one line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import outputs
from ..distributed import broadcast_object
from ..errors import UsageError
from ..runs.layout import WRITTEN, is_run_dir


def claim(run_dir: Path, overwrite: bool, rank: int) -> outputs.Lock:
    """Take ``run_dir`` for this run: refuse a user's folder or a run being written by another
    job, clear one of ours for ``overwrite``, else leave it to be resumed. The lock is held
    (on rank 0) until the caller releases it."""
    lock, error = outputs.Lock(run_dir, "--run-dir"), None
    if rank == 0:
        try:
            lock.acquire()
            ours = outputs.check_replaceable(run_dir, "--run-dir", True, is_run_dir)
            if ours and overwrite:
                _clear(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
        except UsageError as err:
            lock.release()
            error = str(err)
    error = broadcast_object(error)
    if error:
        raise UsageError(error)
    return lock


def _clear(run_dir: Path) -> None:
    """Remove what a run wrote, the record last (until then the dir is still known as ours)."""
    for pattern in reversed(WRITTEN):
        for entry in sorted(run_dir.glob(pattern)):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
