"""Can a split's leak be seen? The tiny config trained twice on a synthetic archive with
persistent weather (``--weather persistent``: cloud systems that live 3-6 days, each with a
core brightness the infrared cannot see), on the default split and on a leaky one, both
scored by ``evaluate`` on the same days.

- default: whole local solar days in a contiguous block, 7 buffer days (paper.yaml's) around
  what is scored;
- leaky: UTC days, no buffer, days shuffled over the period.

Each of the leaky split's test days that the default model's record lets ``evaluate`` score
as held out is scored for both models: for the leaky model it is one of its own test days,
whose weather it met on neighbouring training days; for the default model, a day whose
systems it never saw. A leak shows as the leaky model scoring better on its own test days.
Then both models on the default model's training days (in sample for it, partly for the
leaky one): what memorising a day's weather is worth, the ceiling of a leak.

    PATH=.venv/bin:$PATH python benchmarks/leak.py --work /tmp/leak [--days 40] [--steps 500]
        [--set KEY=VALUE ...]

Prints a table; measured figures are in benchmarks/README.md. At the tiny config's own
settings two trainings cost ~10 CPU minutes; tests/evaluate/test_leak_trained.py is the
same comparison at a test's size (24 days, 16 px crops, the generator alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPLIT = ["data.val_fraction=0.1", "data.test_fraction=0.2", "data.split_blocks=1"]
SPLITS = {
    "default": ["data.buffer_days=7"],
    "leaky": ["data.buffer_days=0", "data.day_clock=utc", "data.day_order=shuffled"],
}
ENV = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *cmd], capture_output=True, text=True, env=ENV)


def build(work: Path, days: int) -> Path:
    """A persistent-weather G17 M1 archive around local noon (19 and 21 UTC), preprocessed."""
    store = work / "store.zarr"
    if not (work / ".preprocessed").exists():
        start = date(2019, 6, 1)
        end = start + timedelta(days=days - 1)
        synth = ["-m", "hpc_vqvae.synth", "--archive", str(work / "abi"), "--hours", "19,21"]
        synth += ["--every", "1h", "--start", str(start), "--end", str(end)]
        _check(_run(*synth, "--weather", "persistent"))
        _check(_run("-m", "hpc_vqvae.preprocess", "--archive", str(work / "abi"), "--output",
                    str(store), "--years", "2019"))  # fmt: skip
        (work / ".preprocessed").touch()
    return store


def train(work: Path, store: Path, steps: int, extra: list[str]) -> dict[str, Path]:
    """Both runs at once, one core each."""
    procs = {}
    for name, split in SPLITS.items():
        run = work / name
        if (run / "generator").exists():
            continue
        cmd = ["-m", "hpc_vqvae.train", "--config", str(REPO / "configs/tiny.yaml"), "--run-dir",
               str(run), f"data.store={store}", f"train.max_steps={steps}",
               f"train.val_every={steps}", "train.log_every=100", *SPLIT, *split,
               *extra]  # fmt: skip
        procs[name] = subprocess.Popen([sys.executable, *cmd], env=ENV, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)  # fmt: skip
    for proc in procs.values():
        _, err = proc.communicate()
        if proc.returncode:
            sys.exit(err[-3000:])
    return {name: work / name for name in SPLITS}


def score(run: Path, store: Path, first: str, last: str) -> dict | None:
    """evaluate's JSON for whole days first..last, or None where it refuses them."""
    proc = _run("-m", "hpc_vqvae.evaluate", "--checkpoint", str(run), "--store", str(store),
                "--start", f"{first}T00:00", "--end", f"{last}T23:59", "--format", "json",
                *(["--in-sample"] if first != last else []))  # fmt: skip
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _check(proc: subprocess.CompletedProcess) -> None:
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--days", type=int, default=40)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--set", nargs="*", default=[], help="more config overrides for both runs")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = datetime.now()
    store = build(args.work, args.days)
    runs = train(args.work, store, args.steps, args.set)
    record = {n: json.loads((r / "run.json").read_text())["split"] for n, r in runs.items()}
    print(f"{args.days} days, {args.steps} steps; RMSE (model's convention), whole days\n")
    print("| leaky split's test day | default model | leaky model |\n| --- | --- | --- |")
    pairs = []
    for day in record["leaky"]["test_days"]:
        d = score(runs["default"], store, day, day)
        if d is None:
            print(f"| {day} | (its training or buffer day) | |")
            continue
        k = score(runs["leaky"], store, day, day)
        pairs.append((d["rmse"], k["rmse"]))
        print(f"| {day} | {d['rmse']:.4f} | {k['rmse']:.4f} |")
    if pairs:
        a, b = np.array(pairs).T
        print(f"| mean of {len(a)} | {a.mean():.4f} | {b.mean():.4f} "
              f"(leaky better on {(b < a).sum()}) |")  # fmt: skip
    first, last = record["default"]["train_days"][0], record["default"]["train_days"][-1]
    d, k = (score(runs[n], store, first, last) for n in ("default", "leaky"))
    print(f"\nthe default model's training days {first}..{last}, in sample: default "
          f"{d['rmse']:.4f}, leaky {k['rmse']:.4f}; {(datetime.now() - t0).seconds} s")  # fmt: skip


if __name__ == "__main__":
    main()
