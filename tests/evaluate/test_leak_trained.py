"""The leak, seen with the real model: the tiny config trained twice by the real trainer
(DeepSpeed on gloo, MLflow) on a synthetic archive with persistent weather (cloud systems
that live 3-6 days, each with a core brightness its infrared cannot show), once on the
default split and once on a leaky one, and both scored by ``evaluate`` on the same days.

- default: paper.yaml's rule (whole local solar days in a block, its buffer, 7 days, around
  the scored days);
- leaky: UTC days, no buffer, days shuffled over the period.

The days scored are the leaky split's test days that the default model's run record lets
``evaluate`` score as held out. The leaky model met their cloud systems on the training days
next to them; the default model never did. A leak shows as the leaky model scoring far
better there. With paper.yaml's buffer set to 0 the default model trains next to those days
too: they are then its training days and no longer paired, and the test fails.

Cheap settings, the same for both runs: 16 px crops (one decoded scan serves 16 of them), the
generator alone (no discriminator: the leak is in the reconstruction), 500 steps; 24 days of
two scans around local noon. Measured: 0.083 against 0.229 mean RMSE; at 250 steps neither
model has learned the deck yet (0.24 against 0.24), from 400 on the leak shows. The
benchmark with the tiny config's own settings is benchmarks/leak.py. Run with -s to see the
scores.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from hpc_vqvae.evaluate.__main__ import main as evaluate
from hpc_vqvae.train.config import load_config
from tests.helpers.real import REPO
from tests.helpers.stores import preprocess_here, write_synthetic
from tests.helpers.training import train_cmd, train_env

pytestmark = [pytest.mark.slow, pytest.mark.deepspeed, pytest.mark.timeout(1800)]

STEPS = 500
PAPER = load_config(REPO / "configs/paper.yaml").data.split
COMMON = [
    "data.val_fraction=0.1",
    "data.test_fraction=0.2",
    "data.split_blocks=1",
    "data.patch_size=16",
    "data.crops_per_scan=16",
    "loss.disc_start=1000000",
    f"train.max_steps={STEPS}",
    f"train.val_every={STEPS}",
    "train.val_batches=1",
    "train.log_every=100",
]
SPLITS = {
    "default": [
        f"data.buffer_days={PAPER.buffer_days}",
        f"data.day_clock={PAPER.clock}",
        f"data.day_order={PAPER.order}",
    ],
    "leaky": ["data.buffer_days=0", "data.day_clock=utc", "data.day_order=shuffled"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """The store and both runs, trained at once (one core each)."""
    root = tmp_path_factory.mktemp("leak")
    write_synthetic(root / "abi", "2019-06-01", "2019-06-24", 1, (19, 21), weather="persistent")
    store = preprocess_here(root / "abi", root / "store.zarr", "2019")
    procs = {
        name: subprocess.Popen(
            train_cmd(root / name, f"data.store={store}", *COMMON, *split),
            env=train_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, split in SPLITS.items()
    }
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=1500)
        assert proc.returncode == 0, f"{name}: {err[-3000:]}"
    return store, {name: root / name for name in SPLITS}


def split_of(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())["split"]


def stretches(days: list[str]) -> list[tuple[str, str]]:
    """Runs of consecutive days, as (first, last)."""
    d = np.array(days, dtype="datetime64[D]")
    cuts = np.flatnonzero(np.diff(d) != np.timedelta64(1, "D")) + 1
    return [(str(p[0]), str(p[-1])) for p in np.split(d, cuts)]


def rmse_by_day(run: Path, store: Path, first: str, last: str) -> dict[str, float]:
    """``evaluate``'s per-day RMSE (model's convention) over whole days first..last."""
    out = StringIO()
    args = ["--checkpoint", str(run), "--store", str(store), "--format", "json"]
    with redirect_stdout(out):
        code = evaluate([*args, "--start", f"{first}T00:00", "--end", f"{last}T23:59"])
    assert code == 0
    report = json.loads(out.getvalue())
    assert not report["in_sample"]
    return {day: s["model"]["rmse"] for day, s in report["by_day"].items()}


def test_a_leaky_split_flatters_the_model_on_its_own_test_days(runs):
    store, run = runs
    default, leaky = split_of(run["default"]), split_of(run["leaky"])
    held_out = set(default["val_days"]) | set(default["test_days"])
    paired = [d for d in leaky["test_days"] if d in held_out]
    assert len(paired) >= 2, (leaky["test_days"], default)
    scores = {name: {} for name in run}
    for first, last in stretches(paired):
        for name in run:
            scores[name].update(rmse_by_day(run[name], store, first, last))
    d, k = (np.array([scores[n][day] for day in paired]) for n in ("default", "leaky"))
    print("\nLEAK RMSE on the leaky split's test days, default model | leaky model:")
    for day, a, b in zip(paired, d, k, strict=True):
        print(f"  {day}  {a:.4f} | {b:.4f}")
    print(f"  mean        {d.mean():.4f} | {k.mean():.4f}")
    assert k.mean() < 0.6 * d.mean(), "the leaky split's test days flatter the model"
