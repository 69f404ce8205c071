"""The README's examples run as written (paths moved into a temporary folder)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import sample_files

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def _commands(prefix: str) -> list[str]:
    lines = [ln.strip() for b in _blocks("bash") for ln in b.splitlines()]
    return [ln for ln in lines if prefix in ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def readme_store(tmp_path_factory, mpiexec_path) -> Path:
    """Runs the README's synth and preprocess commands, as written, into a temporary folder."""
    tmp = tmp_path_factory.mktemp("readme")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    synth, pre = _commands("python -m hpc_vqvae.synth"), _commands("python -m hpc_vqvae.preprocess")
    assert synth and pre, "the README lost its synth/preprocess commands"
    for line in (synth[0], pre[0]):
        argv = shlex.split(line.split("#")[0].replace("/tmp/abi", str(tmp / "abi")))
        argv = [
            sys.executable if a == "python" else mpiexec_path if a == "mpiexec" else a for a in argv
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
    return tmp / "abi.zarr"


@pytest.fixture(scope="module")
def mpiexec_path() -> str:
    import shutil

    from tests.helpers import require_real

    path = shutil.which("mpiexec")
    require_real("MPI", path is not None, "mpiexec not on PATH")
    return path


def test_reading_example(sample_dir, monkeypatch):
    block = next(b for b in _blocks("python") if "read_band" in b)
    name = re.search(r'read_band\("([^"]+)"\)', block).group(1)
    assert any(f.name == name for f in sample_files()), "the example names a real sample file"
    monkeypatch.chdir(sample_dir)
    scope: dict = {}
    exec(block, scope)
    assert scope["bt"].attrs["units"] == "K" and scope["sza"].shape == (500, 500)


def test_model_example(readme_store):
    block = next(b for b in _blocks("python") if "generator_step" in b)
    scope: dict = {}
    exec(block.replace("/tmp/abi.zarr", str(readme_store)), scope)
    assert "train/rec_loss" in scope["log"] and scope["rec"].shape[1] == 3
