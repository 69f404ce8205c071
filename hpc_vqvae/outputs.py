"""The only place that decides whether a command may replace what is at its output path, and
that keeps two writers off one output.

A command replaces (``--overwrite``) only an empty folder or an output it wrote itself, known
by its own marks: a store's layout attribute, an AI-generated product's attributes, a run
dir's record, a fetch's manifest. Anything else at the path is refused, with or without
``--overwrite``: no command deletes a file it did not write. While a command writes, a lock
file beside the output names the writer (host, pid, Slurm job); a second writer is refused,
naming it. A lock left by a process that is gone (same host, dead pid) or by an earlier run of
the same Slurm job (a requeue) is taken over.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

from .errors import UsageError

Recognise = Callable[[Path], bool]


PLOT_SOFTWARE = "hpc-vqvae plot"  # the PNG tag of evaluate's and compare's --plot


def is_png_of(path: Path, software: str) -> bool:
    """A PNG that this package wrote, by the ``Software`` tag it gave it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.info.get("Software") == software
    except Exception:  # noqa: BLE001 (not an image we can read, so not ours)
        return False


def check_plot(path: Path | None, flag: str = "--plot") -> None:
    """A plot is redrawn over an earlier plot of ours; anything else at the path is refused."""
    if path is not None and path.exists() and not is_png_of(path, PLOT_SOFTWARE):
        raise UsageError(
            f"{flag} {path}: exists and is not a plot of hpc-vqvae; choose another path"
        )


def is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_replaceable(path: Path, flag: str, overwrite: bool, ours: Recognise) -> bool:
    """Whether ``path`` will be replaced (True) or is free (False); a UsageError when it may
    not be: one of ours without ``overwrite``, or anything that is not ours."""
    if not path.exists() or is_empty_dir(path):
        return False
    if not ours(path):
        raise UsageError(
            f"{flag} {path}: exists and holds what hpc-vqvae did not write; choose another {flag}"
        )
    if not overwrite:
        raise UsageError(f"{flag} {path}: exists; pass --overwrite to replace it")
    return True


def remove(path: Path, ours: Recognise) -> None:
    """Delete an output of ours (or an empty folder); anything else is a bug, never deleted."""
    if not path.exists():
        return
    if not (is_empty_dir(path) or ours(path)):
        raise RuntimeError(f"refusing to delete {path}: not an output of hpc-vqvae")
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


class Lock:
    """``<output>.lock``: held while a command writes ``output``."""

    def __init__(self, output: Path, flag: str):
        self.output, self.flag = Path(output), flag
        self.path = self.output.with_name(self.output.name + ".lock")
        self.held = False

    @staticmethod
    def _me() -> dict:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "job": os.environ.get("SLURM_JOB_ID"),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def acquire(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if not self._stale(holder):
                    raise UsageError(
                        f"{self.flag} {self.output}: being written by {holder.get('host')} pid "
                        f"{holder.get('pid')}"
                        + (f" (Slurm job {holder['job']})" if holder.get("job") else "")
                        + f" since {holder.get('since')}; if that is gone, remove {self.path}"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self._me(), f)
            self.held = True
            return self
        raise UsageError(f"{self.flag} {self.output}: could not take {self.path}")

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _stale(holder: dict) -> bool:
        """Its writer is gone: a dead pid on this host, or an earlier run of this Slurm job."""
        if holder.get("job") and holder.get("job") == os.environ.get("SLURM_JOB_ID"):
            return True
        if holder.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(holder.get("pid", -1)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OverflowError):
            return False
        return False

    def release(self) -> None:
        if self.held and self._holder().get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
