"""``python -m hpc_vqvae.evaluate`` on the tiny checkpoint of ``conftest.trained``: the paper's
table as JSON, checked against an independent computation of one baseline, logged into the
run's MLflow run; two ranks give one rank's numbers; one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import zarr
from mlflow.tracking import MlflowClient

from hpc_vqvae.data.config import DataConfig
from hpc_vqvae.data.preflight import open_for_training
from hpc_vqvae.model.translator import Translator
from hpc_vqvae.store import Store
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
        "--compare", trained.run_dir,
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
    assert out["target"].startswith("sun-normalised") and out["in_sample"] is False
    conv = Translator.load(trained.run_dir, "cpu").data_cfg
    assert out["convention"]["name"] == "model"
    assert out["convention"]["data_range"] == conv.reflectance_max  # the target's own range
    assert out["convention"]["weighting"]["psnr"] == "scan"
    assert out["convention"]["lpips_input"].startswith(f"2 r / {conv.reflectance_max} - 1")
    # one validation day: every resample of days is that day, so each interval is the point
    assert out["days"] == 1 and list(out["by_day"]) == [_val_day(trained)]
    assert out["ci"]["model"]["rmse"] == [pytest.approx(out["rmse"], abs=1e-6)] * 2
    lsq = out["ci"]["model_minus_baseline"]["rmse"]
    assert lsq[0] == pytest.approx(out["rmse"] - out["baseline"]["rmse"], abs=1e-5)
    assert out["by_day"][_val_day(trained)]["model"]["rmse"] == pytest.approx(out["rmse"])
    # --compare with the model itself: the same pixels, so no difference at all
    assert out["compared"]["rmse"] == out["rmse"] and out["compared_label"] == "vqgan (run)"
    assert out["ci"]["model_minus_compared"]["ssim"] == [0.0, 0.0, 0.0]
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


def _val_day(trained) -> str:
    return json.loads((trained.run_dir / "run.json").read_text())["split"]["val_days"][0]


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
    """2020-05-01 is the run's training day: refused as held out, scored with --in-sample and
    labelled so."""
    span = ["--start", "2020-05-01T17:00", "--end", "2020-05-01T23:00"]
    proc = _evaluate(
        "--checkpoint", trained.run_dir, "--store", trained.store, "--format", "json", *span,
        "--in-sample",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["scans"] == 3 and out["selection"].startswith("2020-05-01T18")
    assert out["in_sample"] is True
    cases = [
        (span, "3 of 3 scans fall on 1 day(s) the model trained on or that buffer them"),
        (["--in-sample"], "--in-sample goes with --start/--end"),
        (["--split", "test"], "holds no test scan"),
        (["--by", "season"], "--by season"),
        (["--start", "2020-05-01"], "--start and --end go together"),
    ]
    for args, culprit in cases:
        proc = _evaluate("--checkpoint", trained.run_dir, "--store", trained.store, *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        (line,) = proc.stderr.strip().splitlines()
        assert culprit in line


def test_a_store_grown_by_a_year_is_scored_on_the_recorded_days(report, trained, tmp_path):
    """A year appended to the store moves the recomputed split (its one validation day is now
    in 2021); evaluate still scores the recorded validation day, fits the baseline on the
    recorded training day, and scores the new year as unseen, in the paper's convention:
    plain reflectance clipped to [0, 1], checked on the inverted-IR baseline."""
    from tests.helpers.stores import preprocess_here, write_synthetic
    from tests.predict.conftest import BANDS, SETTINGS

    one, _, _ = report
    shutil.copytree(trained.archive, tmp_path / "abi")
    write_synthetic(tmp_path / "abi", "2021-05-01", "2021-05-02", 2, (18, 20, 22),
                    bands=(1, 2, 3, 5, 13, 14))  # fmt: skip
    grown = preprocess_here(
        tmp_path / "abi", tmp_path / "grown.zarr", "2020,2021", input_bands=",".join(BANDS),
        **SETTINGS,
    )  # fmt: skip
    model = Translator.load(trained.run_dir, "cpu")
    cfg = DataConfig(**{**model.data_cfg.model_dump(), "store": grown})
    _, _, recomputed = open_for_training(cfg)
    assert [str(d) for d in recomputed.val_days] != [_val_day(trained)], "the split moved"

    proc = _evaluate("--checkpoint", trained.run_dir, "--store", grown, "--split", "val",
                     "--format", "json", "--by", "sza,month,hour")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(proc.stdout)
    assert (two["scans"], two["pixels"], list(two["by_day"])) == (
        one["scans"], one["pixels"], list(one["by_day"]))  # fmt: skip
    assert two["baseline"]["rmse"] == pytest.approx(one["baseline"]["rmse"], rel=1e-6)

    span = ["--start", "2021-05-01", "--end", "2021-05-03", "--convention", "paper"]
    proc = _evaluate("--checkpoint", trained.run_dir, "--store", grown, "--format", "json", *span)
    assert proc.returncode == 0, proc.stderr[-3000:]
    new = json.loads(proc.stdout)
    assert new["in_sample"] is False and new["days"] == 2 and new["scans"] == 6
    assert new["convention"]["data_range"] == 1.0 and new["convention"]["name"] == "paper"
    g = zarr.open_group(grown, mode="r")
    times = Store.open(grown).table().time
    sq, n = np.zeros(3), 0
    for t in np.flatnonzero(times >= np.datetime64("2021-05-01")):
        sza, bands = g["sza"][t], {b: g[b][t] for b in cfg.bands}
        grey = np.clip((330.0 - bands["C13"]) / 150.0, 0, 1)
        rgb = [np.clip(sum(w * bands[b] for b, w in cfg.target[c].items()), 0, 1) for c in "RGB"]
        ok = np.all([np.isfinite(v) for v in bands.values()], axis=0) & (sza < cfg.target_sza_max)
        sq += [((grey - x)[ok] ** 2).sum() for x in rgb]
        n += ok.sum()
    assert new["pixels"] == n
    assert new["baseline_grey"]["rmse"] == pytest.approx(np.sqrt(sq / n).mean(), rel=1e-4)
