"""``python -m hpc_vqvae.evaluate`` on the tiny checkpoint of ``conftest.trained``: the paper's
table as JSON, checked against an independent computation of one baseline, logged into the
run's MLflow run; two ranks give one rank's numbers; one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import zarr
from mlflow.tracking import MlflowClient

from hpc_vqvae.data.config import DataConfig
from hpc_vqvae.data.preflight import open_for_training
from hpc_vqvae.model.translator import Translator
from hpc_vqvae.world import free_port
from tests.helpers.training import train_env

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed]


def _evaluate(*args, ranks: int = 1) -> subprocess.CompletedProcess:
    module = ["-m", "hpc_vqvae.evaluate", *map(str, args)]
    if ranks > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}",
               f"--master_port={free_port()}", *module]  # fmt: skip
    else:
        cmd = [sys.executable, *module]
    return subprocess.run(cmd, capture_output=True, text=True, env=train_env(), timeout=600)


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory):
    plot = tmp_path_factory.mktemp("eval") / "eval.png"
    proc = _evaluate(
        "--checkpoint", trained.run_dir, "--store", trained.store, "--split", "val",
        "--format", "json", "--by", "sza,month,hour", "--plot", plot,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), plot, proc.stderr


def test_the_table_as_json(report, trained):
    out, plot, stderr = report
    for part in (out, out["baseline"], out["baseline_grey"]):
        assert {"ssim", "psnr", "psnr_pooled", "rmse", "mae", "lpips"} <= set(part)
        assert part["rmse"] > 0 and 0 < part["ssim"] <= 1 and set(part["channels"]) == set("RGB")
    assert out["lpips"] is None and "no LPIPS weights" in out["lpips_reason"]
    assert out["scans"] > 0 and out["pixels"] > 0 and out["selection"].startswith("val split")
    assert out["convention"].startswith("sun-normalised")
    assert set(out["by_sza"]) == {"0-30", "30-50", "50-65", "65-80", "80-90"}
    assert list(out["by_month"]) == ["05"] and set(out["by_hour"]) <= {"18", "20", "22", "08"}
    assert plot.stat().st_size > 10_000
    # logged into the checkpoint's own MLflow run, at its step
    run = MlflowClient(tracking_uri=trained.tracking_uri).get_run(trained.run_id)
    assert run.data.metrics["eval/ssim"] == pytest.approx(out["ssim"], abs=1e-6)
    assert run.data.metrics["eval/baseline/rmse"] == pytest.approx(
        out["baseline"]["rmse"], abs=1e-6
    )
    assert "logged eval/ metrics" in stderr


def test_the_inverted_ir_baseline_recomputed_from_the_store(report, trained):
    """Selection, masks and target convention, checked on the one predictor that needs no
    model: grey = (330 K - C13) / 150 K against the sun-normalised RGB of the store's bands."""
    out, _, _ = report
    model = Translator.load(trained.run_dir, "cpu")
    cfg = DataConfig(**{**model.data_cfg.model_dump(), "store": trained.store})
    _, _, split = open_for_training(cfg)
    g = zarr.open_group(trained.store, mode="r")
    sq, n = np.zeros(3), 0
    for t in split.val:
        sza = g["sza"][t]
        bands = {b: g[b][t] for b in cfg.bands}
        grey = np.clip((330.0 - bands["C13"]) / 150.0, 0, 1)
        cos = np.maximum(np.cos(np.deg2rad(sza)), 0.01)
        w = cfg.target
        rgb = [sum(wt * bands[b] for b, wt in w[c].items()) / cos for c in "RGB"]
        rgb = [np.clip(x / cfg.reflectance_max, 0, 1) * cfg.reflectance_max for x in rgb]
        ok = np.all([np.isfinite(v) for v in bands.values()], axis=0) & (sza < cfg.target_sza_max)
        sq += [((grey - x)[ok] ** 2).sum() for x in rgb]
        n += ok.sum()
    assert out["baseline_grey"]["rmse"] == pytest.approx(np.sqrt(sq / n).mean(), rel=1e-4)
    assert out["pixels"] == n


def test_two_ranks_give_one_ranks_numbers(report, trained):
    one, _, _ = report
    proc = _evaluate(
        "--checkpoint", trained.run_dir, "--store", trained.store, "--split", "val",
        "--format", "json", "--by", "sza,month,hour", ranks=2,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(proc.stdout)
    assert two["ranks"] == 2 and two["scans"] == one["scans"] and two["pixels"] == one["pixels"]
    for part in ("baseline", "baseline_grey"):
        for key in ("ssim", "rmse", "psnr", "mae"):
            assert two[part][key] == pytest.approx(one[part][key], rel=1e-5), (part, key)
    for key in ("ssim", "rmse", "psnr", "mae"):
        assert two[key] == pytest.approx(one[key], rel=1e-5), key


def test_a_time_range_and_one_line_errors(trained, tmp_path):
    span = ["--start", "2020-05-01T17:00", "--end", "2020-05-01T23:00"]
    proc = _evaluate(
        "--checkpoint", trained.run_dir, "--store", trained.store, "--format", "json", *span
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["scans"] == 3 and out["selection"].startswith("2020-05-01T18")
    cases = [
        (["--split", "test"], "holds no test scan"),
        (["--by", "season"], "--by season"),
        (["--start", "2020-05-01"], "--start and --end go together"),
    ]
    for args, culprit in cases:
        proc = _evaluate("--checkpoint", trained.run_dir, "--store", trained.store, *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        (line,) = proc.stderr.strip().splitlines()
        assert culprit in line
