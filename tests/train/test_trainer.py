"""The trainer for real: DeepSpeed engines over gloo with 2 ranks (torchrun and mpiexec), ZeRO
1-3, exact resume, stop on SIGUSR2, MLflow (server and SQLite), and run comparison."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from hpc_vqvae.model import load_generator
from hpc_vqvae.runs import layout
from hpc_vqvae.train import checkpoint
from hpc_vqvae.train.__main__ import EXIT_REQUEUE
from hpc_vqvae.train.config import load_config
from tests.helpers.real import REPO
from tests.helpers.tracking import mlflow_runs
from tests.helpers.training import (
    losses,
    read_metrics,
    run_trainer,
    small_run,
    train_cmd,
    train_env,
)

EXPERIMENT = "trainer-tests"


@pytest.mark.slow
@pytest.mark.deepspeed
@pytest.mark.parametrize(
    "stage,launcher,precision",
    [
        (1, "torchrun", "fp32"),
        pytest.param(2, "mpiexec", "fp32", marks=pytest.mark.mpi),
        (3, "torchrun", "fp32"),
        (2, "torchrun", "bf16"),
    ],
)
def test_zero_stages_on_two_ranks(
    stage, launcher, precision, train_store, mlflow_server, tmp_path, mpiexec
):
    run_dir = tmp_path / f"zero{stage}{precision}"
    extra = [
        f"train.zero_stage={stage}",
        f"train.experiment={EXPERIMENT}",
        f"train.tracking_uri={mlflow_server}",
        f"train.precision={precision}",
    ]
    if stage == 3:
        extra.append("loss.adaptive_weight=false")  # ZeRO-3 partitions the probed layer
    env = train_env(MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL="1")  # a run of a few seconds
    overrides = small_run(train_store, 4, *extra)
    proc = run_trainer(2, launcher, overrides, run_dir, env=env, mpiexec=mpiexec)
    assert f"2 rank(s) via {launcher.replace('mpiexec', 'mpi')}" in proc.stdout
    assert f"ZeRO {stage} {precision}" in proc.stdout
    rows = read_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(r["train/rec_loss"]) and r["train/disc_loss"] > 0 for r in rows[1:])
    model, meta = load_generator(run_dir / "generator")  # consolidated fp32, whatever the stage
    assert meta["step"] == 4 and meta["config"]["train"]["zero_stage"] == stage
    exported = model.state_dict()
    # the fp32 masters DeepSpeed's own tool consolidates from the final checkpoint, and the
    # same again through python -m hpc_vqvae.export
    final = checkpoint.checkpoint_fp32_weights(layout.latest(run_dir))
    cli = subprocess.run(
        [sys.executable, "-m", "hpc_vqvae.export", str(run_dir), "--output", str(tmp_path / "e")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    again = load_generator(tmp_path / "e")[0].state_dict()
    for name, w in exported.items():
        assert torch.equal(w, again[name]), name
        assert w.dtype == torch.float32 or name.endswith("initted"), name
        if name in final:
            assert torch.equal(w, final[name]), name
    if precision == "bf16":  # masters, not the bf16-rounded weights the module computed with
        weight = exported["decoder.conv_out.weight"]
        assert not torch.equal(weight, weight.bfloat16().float())
    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    page = f"#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning"
    assert f"MLflow runs: {mlflow_server}/{page}\n" in proc.stdout  # at the end
    runs = [r for r in client.search_runs([exp.experiment_id]) if r.info.run_name == run_dir.name]
    assert len(runs) == 1, "exactly one MLflow run for a 2-rank job"
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.params["world_size"] == "2"
    assert run.data.params["train.zero_stage"] == str(stage)
    history = client.get_metric_history(run.info.run_id, "train/rec_loss")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == [1, 2, 3, 4]
    for key in (
        "train/perplexity",
        "train/codebook_usage",
        "train/dead_codes",
        "train/d_weight",
        "train/lr",
        "train/samples_per_s",
        "val/ssim",
        "val/psnr",
        "val/rmse",
        "val/mae",
        "val/psnr_pooled",
        "val/perplexity",
        "val/codebook_usage",
    ):
        assert key in run.data.metrics, key
    tags = run.data.tags
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["mlflow.user"]
    assert tags["mlflow.source.name"] == "hpc_vqvae.train" and tags["launcher"]
    assert any(k.startswith("system/cpu_utilization") for k in run.data.metrics), "system metrics"
    assert any(k.startswith("system/system_memory") for k in run.data.metrics)
    config = yaml.safe_load(
        Path(client.download_artifacts(run.info.run_id, "config.yaml")).read_text()
    )
    assert config == load_config(REPO / "configs" / "tiny.yaml", overrides).model_dump(mode="json")
    split = json.loads(Path(client.download_artifacts(run.info.run_id, "split.json")).read_text())
    assert split == json.loads((run_dir / "run.json").read_text())["split"]
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    keyed = {tuple(p.removeprefix("images/").split("+")[:3:2]) for p in images}
    assert keyed == {("samples", "4"), ("codebook_usage", "4")}, images  # log_image key, step
    mlflow.set_tracking_uri(mlflow_server)
    got = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/generator").metadata.metadata
    assert got["step"] == 4 and got["input_units"] == "K", "the logged model, at the end"


@pytest.mark.slow
@pytest.mark.deepspeed
def test_compare_runs(train_store, mlflow_server, tmp_path):
    """After the stage runs above: the runs side by side, the differing params, a PNG."""
    plot = tmp_path / "curves.png"
    cmd = [
        sys.executable,
        "-m",
        "hpc_vqvae.compare",
        "--experiment",
        EXPERIMENT,
        "--tracking-uri",
        mlflow_server,
        "--format",
        "json",
        "--plot",
        str(plot),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert len(report["runs"]) >= 2 and "train.zero_stage" in report["differing_params"]
    client = MlflowClient(tracking_uri=mlflow_server)
    for run in report["runs"]:  # best of a loss is its lowest, of SSIM its highest
        for name, pick in (("train/rec_loss", min), ("val/ssim", max)):
            history = [m.value for m in client.get_metric_history(run["run_id"], name)]
            assert run["metrics"][name]["best"] == pick(history), (name, history)
            assert run["metrics"][name]["final"] == history[-1] or len(history) == 1
    assert plot.stat().st_size > 1000
    table = subprocess.run(cmd[:-4], capture_output=True, text=True, timeout=300).stdout
    assert "train.zero_stage" in table and "val/ssim best" in table


@pytest.mark.slow
@pytest.mark.deepspeed
def test_resume_reproduces_an_uninterrupted_run(train_store, tmp_path):
    """2 ranks, ZeRO-2: 8 steps straight == 4 steps, stop, resume, 4 more (every loss term)."""
    overrides = small_run(train_store, 8, "train.zero_stage=2")
    run_trainer(2, "torchrun", overrides, tmp_path / "straight")
    run_trainer(2, "torchrun", overrides, tmp_path / "split", "--stop-after-steps", "4")
    assert layout.latest(tmp_path / "split").name == "step_00000004"
    proc = run_trainer(2, "torchrun", overrides, tmp_path / "split")
    assert "resumed from step_00000004" in proc.stdout
    straight, split = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "split")
    assert [r["step"] for r in split] == list(range(1, 9))
    for a, b in zip(straight, split, strict=True):
        for key in a:
            if key.startswith("train/") and key != "train/samples_per_s":
                assert a[key] == b[key], (a["step"], key)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the default: one database beside the runs
    assert [r.info.run_name for r in mlflow_runs(uri)] == ["straight", "split"]
    runs = mlflow_runs(uri, name="split")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED", "one run, continued"
    steps = [
        m.step for m in MlflowClient(uri).get_metric_history(runs[0].info.run_id, "train/rec_loss")
    ]
    assert sorted(steps) == list(range(1, 9))


@pytest.mark.slow
@pytest.mark.deepspeed
def test_sigusr2_checkpoints_stops_and_resumes(train_store, tmp_path):
    """Slurm's pre-emption warning: the run checkpoints at the next step, is marked KILLED,
    and a relaunch continues the same MLflow run to the end."""
    run_dir = tmp_path / "preempted"
    overrides = small_run(train_store, 40)
    cmd = train_cmd(run_dir, *overrides)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=train_env()
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        metrics = run_dir / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            proc.send_signal(signal.SIGUSR2)
            break
        time.sleep(0.1)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_REQUEUE, err[-3000:]  # "requeue me": the job script's cue
    assert "stopped at step" in out
    stopped = layout.latest(run_dir)
    assert stopped is not None and 2 <= int(stopped.name[5:]) < 40
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (run,) = mlflow_runs(uri)
    assert run.info.status == "KILLED"
    run_trainer(1, "none", overrides, run_dir)
    (again,) = mlflow_runs(uri)
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert read_metrics(run_dir)[-1]["step"] == 40


def test_bad_config_fails_before_any_work(train_store, tmp_path):
    proc = run_trainer(
        1, "none", small_run(train_store, 2, "model.codebook_sizee=8"), tmp_path / "x", check=False
    )
    assert proc.returncode == 2 and "model.codebook_sizee" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
@pytest.mark.deepspeed
def test_gradient_accumulation_single_process(train_store, tmp_path):
    """No launcher at all, two micro-batches per optimizer step."""
    run_dir = tmp_path / "accum"
    proc = run_trainer(1, "none", small_run(train_store, 2, "train.grad_accum=2"), run_dir)
    assert "1 rank(s) via none" in proc.stdout
    assert "x accum 2 x world 1" in proc.stdout
    rows = read_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2] and np.isfinite(rows[-1]["train/rec_loss"])


@pytest.mark.slow
@pytest.mark.deepspeed
def test_two_ranks_at_zero2_equal_one_rank_with_the_same_global_batch(train_store, tmp_path):
    """Data parallelism changes nothing but the speed: 2 ranks x batch 2 at ZeRO-2 give the
    losses of 1 rank x batch 4 (fp32), step by step. What would differ is set aside: crops
    drawn per sample (not per rank), no k-means init (its sample is drawn per rank) or
    revival (it samples rank 0's vectors), no adaptive weight (each rank's own gradients)."""
    same = small_run(
        train_store, 4, "train.zero_stage=2", "data.crops_per_scan=1",
        "model.kmeans_init=false", "model.dead_code_usage=0", "loss.adaptive_weight=false",
    )  # fmt: skip
    run_trainer(1, "none", [*same, "train.batch_size=4"], tmp_path / "one")
    run_trainer(2, "torchrun", [*same, "train.batch_size=2"], tmp_path / "two")
    one, two = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    assert [r["step"] for r in one] == [r["step"] for r in two] == [1, 2, 3, 4]
    for a, b in zip(one, two, strict=True):  # fp32 sums in another order: 1e-7 at step 1,
        for key, value in losses(a).items():  # Adam's first steps amplify that to ~1e-5
            assert b[key] == pytest.approx(value, rel=1e-4, abs=1e-4), (a["step"], key)


@pytest.mark.slow
@pytest.mark.deepspeed
def test_run_dir_is_an_output(train_store, tmp_path, mpiexec):
    """A user's folder is refused with or without --overwrite; a run being written is refused
    on every rank with one line naming its writer; --overwrite clears only a run dir of ours."""
    theirs = tmp_path / "thesis"
    (theirs / "notes").mkdir(parents=True)
    (theirs / "notes" / "thesis.tex").write_text("years of work")
    overrides = small_run(train_store, 2)
    for extra in ([], ["--overwrite"]):
        proc = run_trainer(1, "none", overrides, theirs, *extra, check=False)
        line = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 2 and "did not write" in line and "--overwrite" not in line
    assert sorted(p.name for p in theirs.rglob("*")) == ["notes", "thesis.tex"]

    run_dir = tmp_path / "run"
    hold = f"from hpc_vqvae.outputs import Lock; Lock({str(run_dir)!r}, '').acquire(); input()"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE)
    try:
        while not run_dir.with_name("run.lock").exists():
            time.sleep(0.1)
        proc = run_trainer(2, "mpiexec", overrides, run_dir, mpiexec=mpiexec, check=False)
    finally:
        holder.kill()
        holder.wait()
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and f"pid {holder.pid}" in errors[0]
    assert "Traceback" not in proc.stderr and not run_dir.exists()

    run_trainer(1, "none", overrides, run_dir)  # the holder is gone: its lock is taken over
    (run_dir / "notes.txt").write_text("a user's file beside the run's own")
    first = json.loads((run_dir / "run.json").read_text())
    run_trainer(1, "none", overrides, run_dir, "--overwrite")
    assert [r["step"] for r in read_metrics(run_dir)] == [1, 2], "a fresh run, not a resume"
    first_run, run = mlflow_runs(f"sqlite:///{run_dir.parent / 'mlflow.db'}", name=run_dir.name)
    assert first_run.info.run_id != run.info.run_id, "--overwrite starts a new MLflow run"
    assert (
        run.info.status == "FINISHED"
        and first["split"] == json.loads((run_dir / "run.json").read_text())["split"]
    )
    assert (run_dir / "notes.txt").read_text() == "a user's file beside the run's own"
    assert not run_dir.with_name("run.lock").exists()
