"""Real components required (CI) or skipped (elsewhere), the repository's paths, the real ABI
samples, and the reference tools outputs are checked with (the IOOS compliance checker)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_REAL_ENV = "HPC_VQVAE_REQUIRE_REAL"


def require_real(component: str, available: bool, reason: str) -> None:
    """Insist on a real component (MPI, a file, a tool) for the calling test.

    If ``available`` is false the test is skipped with ``reason``, except when
    ``HPC_VQVAE_REQUIRE_REAL=1`` (set by CI in ``.ci/run``): then it fails, so
    that a missing real component can never pass CI as a silent skip.

    Example::

        require_real("MPI", shutil.which("mpiexec") is not None, "mpiexec not on PATH")
    """
    if available:
        return
    message = f"{component} not available: {reason}"
    if os.environ.get(REQUIRE_REAL_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_REAL_ENV}=1 requires it)", pytrace=False)
    pytest.skip(message)


REPO = Path(__file__).resolve().parents[2]


TINY = REPO / "configs" / "tiny.yaml"


def samples_path() -> Path:
    """The real GOES-17 L1b samples: ../shared/abi-samples, or $HPC_VQVAE_SAMPLES."""
    return Path(os.environ.get("HPC_VQVAE_SAMPLES", REPO.parent / "shared" / "abi-samples"))


def sample_files() -> list[Path]:
    return sorted(samples_path().glob("OR_ABI-L1b-*.nc"))


def cf_errors(path: Path) -> list[str]:
    """The IOOS compliance checker's errors (its high-priority failures) for ``path`` under
    CF 1.11, by the ``compliance-checker`` command users run."""
    exe = shutil.which("compliance-checker") or str(
        Path(sys.executable).with_name("compliance-checker")
    )
    require_real("compliance-checker", Path(exe).exists(), "compliance-checker not installed")
    proc = subprocess.run(
        [exe, "--test=cf:1.11", "--format=json", "-o", "-", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)["cf:1.11"]
    return [m for item in report["high_priorities"] for m in item["msgs"]]


@contextlib.contextmanager
def host_alias(name: str):
    """``name`` resolves to 127.0.0.1 while the block runs (an /etc/hosts line, added only
    when the name does not resolve, and removed again): a login node's name for servers that
    the tests run on loopback."""
    mark = "# hpc-vqvae test host"
    try:
        socket.gethostbyname(name)
        yield
        return
    except OSError:
        pass
    require_real(f"host name {name}", os.access("/etc/hosts", os.W_OK), "/etc/hosts read-only")
    hosts = Path("/etc/hosts")
    line = f"127.0.0.1 {name} {mark}\n"
    with hosts.open("a") as f:
        f.write(line)
    try:
        yield
    finally:
        hosts.write_text("".join(x for x in hosts.read_text().splitlines(True) if x != line))
