"""The examples of the README and of docs/*.md run as written (paths moved into a temporary
folder), and every command they show is run by a test or listed with the reason it cannot be."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.readme import readme_commands
from tests.helpers.real import REPO, sample_files

# The README and the reference pages it links to: one set of examples, all accounted for.
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _blocks(lang: str, docs: list[Path] = DOCS) -> list[str]:
    return [b for doc in docs for b in re.findall(rf"```{lang}\n(.*?)```", doc.read_text(), re.S)]


def _commands(prefix: str) -> list[str]:
    lines = [ln.strip() for b in _blocks("bash") for ln in b.splitlines()]
    return [ln for ln in lines if prefix in ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def readme_store(tmp_path_factory, mpiexec_path) -> Path:
    """Runs the README's synth and preprocess commands, as written, into a temporary folder."""
    tmp = tmp_path_factory.mktemp("readme")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    synth, pre = _commands("python -m hpc_vqvae.synth"), _commands("python -m hpc_vqvae.preprocess")
    assert synth and pre, "the docs lost their synth/preprocess commands"
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

    from tests.helpers.real import require_real

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


@pytest.mark.slow
def test_model_example(readme_store):
    block = next(b for b in _blocks("python") if "generator_step" in b)
    scope: dict = {}
    exec(block.replace("/tmp/abi.zarr", str(readme_store)), scope)
    assert "train/rec_loss" in scope["log"] and scope["rec"].shape[1] == 3


FAST = (
    "train.max_steps=2 train.val_every=2 train.batch_size=4 train.val_batches=1 "
    "data.test_fraction=0 data.split_blocks=1"  # two days: one trains, one validates
)


def _bash(cmd: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", cmd], capture_output=True, text=True, cwd=cwd, env=env, timeout=900
    )


@pytest.mark.slow
@pytest.mark.deepspeed
def test_training_launch_compare_and_predict_commands(readme_store, sample_dir, tmp_path):
    """Every command of the training, launch and inference sections, as written, with the
    store and archive paths moved here and FAST overrides so that each trains two steps."""
    from hpc_vqvae.abi.names import place_in_archive

    place_in_archive(sample_files(), tmp_path / "data" / "abi")
    env = dict(os.environ, OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu", GLOO_SOCKET_IFNAME="lo")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    (tmp_path / "configs").symlink_to(REPO / "configs")

    def local(cmd: str) -> str:
        cmd = cmd.replace("/tmp/abi.zarr", str(readme_store)).replace("/data/abi", "data/abi")
        if "hpc_vqvae.train" in cmd or "hpc_vqvae.launch" in cmd:  # --dry-run checks the store too
            cmd += f" {FAST}"
        return cmd

    training = readme_commands("Training", "docs/training.md")
    submitit = readme_commands("`python -m hpc_vqvae.launch` (submitit)", "docs/slurm.md")
    launch = [c for c in submitit if "hpc_vqvae.launch" in c]
    predict = readme_commands("Commands", "docs/inference.md")
    evaluating = readme_commands("Running evaluate", "docs/evaluation.md")
    assert len(training) == 3 and len(predict) == 3, "update this test with docs/"
    assert len(evaluating) == 1, "update this test with docs/"
    assert any("--local" in c for c in launch) and any("--dry-run" in c for c in launch)
    for cmd in training + [c for c in launch if "--local" in c or "--dry-run" in c]:
        proc = _bash(local(cmd), tmp_path, env)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        if "--dry-run" in cmd:
            assert "#SBATCH --gpus-per-node=4" in proc.stdout and "#SBATCH --nodes=4" in proc.stdout
        if "hpc_vqvae.compare" in cmd:  # the runs of one folder share its database
            assert "tiny-2ranks" in proc.stdout and "tiny " in proc.stdout, proc.stdout

    meta = json.loads((tmp_path / "runs" / "tiny" / "generator" / "config.json").read_text())
    env["RUN_ID"] = meta["mlflow_run_id"]
    for cmd in predict:
        proc = _bash(local(cmd), tmp_path, env)
        assert proc.returncode == 0, f"{cmd}\n{proc.stderr[-3000:]}"
    for out in ("night.nc", "night.png", "night.zarr", "night.mp4", "night-run.zarr"):
        assert (tmp_path / out).exists(), out
    proc = _bash(local(evaluating[0]), tmp_path, env)
    assert proc.returncode == 0, f"{evaluating[0]}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    assert report["selection"].startswith("val split") and report["baseline"]["rmse"] > 0
    assert (tmp_path / "evaluation.png").stat().st_size > 10_000


# Where each command of the README and docs/*.md is exercised, or why it cannot run on a test
# machine. A command that matches nothing here fails the test below: new commands in the README
# or docs/ must be accounted for.
EXERCISED = {
    r"^make (demo|test)$": ".ci/run is make test; tests/test_demo.py runs what make demo runs",
    r"hpc_vqvae\.synth|hpc_vqvae\.preprocess --years": "readme_store (this file), as written",
    r"^python -m hpc_vqvae\.train|^torchrun|compare --experiment hpc-vqvae --tracking-uri": (
        "test_training_launch_compare_and_predict_commands, as written"
    ),
    r"launch .*(--local|--dry-run)|predict --checkpoint (runs/tiny|\"\$RUN_ID\")": (
        "test_training_launch_compare_and_predict_commands, as written"
    ),
    r"hpc_vqvae\.evaluate --checkpoint runs/tiny": (
        "test_training_launch_compare_and_predict_commands, as written"
    ),
    r"slurm/train_multinode\.sh": "tests/launch/test_slurm.py: sbatch and bash submitter modes",
    r"preprocessing/preprocess\.sbatch": (
        "tests/launch/test_preprocess_job.py: sbatch with srun --mpi=pmi2 on 2 nodes; "
        "tests/preprocess: the job script with LAUNCHER=mpiexec"
    ),
    # the HPC quick start: every command, as written, in tests/test_quickstart.py
    r"hpc_vqvae\.fetch|^mlflow server|^export MLFLOW_TRACKING_URI": "tests/test_quickstart.py",
    r"launch --config configs/paper\.yaml .*--partition gpu": "tests/test_quickstart.py",
    r"compare --experiment hpc-vqvae --plot|predict --checkpoint runs/paper": (
        "tests/test_quickstart.py"
    ),
    r"^python -m hpc_vqvae\.config_docs > docs/config\.md$": (
        "tests/test_config_docs.py: test_the_readme_command_regenerates_the_page, as written"
    ),
}
NOT_HERE = {
    r"^(CONDA_OVERRIDE_CUDA=\S+ )?conda |^module load": (
        "site tooling: no conda or environment modules on test machines"
    ),
    r"^python -m venv|^pip install|^MPICC=": "the install itself: make test does it into .venv",
    r"^chromium --headless": (
        "docs/mlflow.md's screenshots: a browser (Debian's chromium), which make does not install; "
        "what decides the page is tested in tests/train/test_experiment_kind.py"
    ),
}


def test_the_docs_pages_are_found():
    """The checks below read docs/ too: a move of the pages must not empty them silently."""
    names = {p.name for p in DOCS}
    assert {"README.md", "training.md", "slurm.md", "inference.md", "evaluation.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_is_accounted_for(doc):
    commands = [
        cmd.split(" # ")[0].strip()
        for block in _blocks("bash", [doc])
        for cmd in block.replace("\\\n", " ").splitlines()
        if cmd.strip() and not cmd.strip().startswith("#")
    ]
    patterns = {**EXERCISED, **NOT_HERE}
    unaccounted = [c for c in commands if not any(re.search(p, c) for p in patterns)]
    assert not unaccounted, f"{doc.name}: commands no test runs: {unaccounted}"
