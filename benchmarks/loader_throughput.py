"""Data loader throughput beside what a training step consumes.

    python benchmarks/loader_throughput.py [--store STORE.zarr] [--batches 8] [--steps 3]

Without --store it first writes a small synthetic store (2 days of G17 M1 scans every 3 h,
preprocessed in a subprocess so that MPI stays out of this process) to a temporary folder.
For patch sizes 64/128/256 and num_workers 0/1/2 at batch 16 it prints the DataLoader's
samples/s in steady state (the first batch, with worker start-up, is timed apart) beside the
samples/s of forward + backward + step of a small conv net on this CPU: a stand-in for the
real model, to show whether loading or compute is the bottleneck here. Default run: ~1.5 min
on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import torch
from torch import nn

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.data import DataConfig, make_loader

BATCH = 16
PATCHES = (64, 128, 256)
WORKERS = (0, 1, 2)


def build_store(root: Path) -> Path:
    archive, store = root / "abi", root / "store.zarr"
    spec = ArchiveSpec(
        root=archive,
        start=datetime(2020, 6, 1),
        end=datetime(2020, 6, 2, 23, 59),
        every=timedelta(hours=3),
    )
    write_archive(spec)
    cmd = [sys.executable, "-m", "hpc_vqvae.preprocess", "--years", "2020"]
    cmd += ["--archive", str(archive), "--output", str(store)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return store


def loader_rate(store: Path, patch: int, workers: int, batches: int) -> tuple[float, float]:
    """(seconds to the first batch, samples/s over the next ``batches``) of a train loader."""
    cfg = DataConfig(
        store=store,
        patch_size=patch,
        num_workers=workers,
        samples_per_epoch=BATCH * (batches + 1),
    )
    loader = make_loader(cfg, "train", batch_size=BATCH)
    start = time.perf_counter()
    it = iter(loader)
    next(it)
    first = time.perf_counter()
    n = sum(len(batch["ir"]) for batch in it)
    rate = n / (time.perf_counter() - first)
    del it, loader  # stops persistent workers before the next configuration
    return first - start, rate


def stand_in(width: int = 32) -> nn.Module:
    """A small encoder-decoder of 3 -> 3 channels, stride 4; not the project's model."""
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1),
        nn.SiLU(),
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
        nn.SiLU(),
        nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1),
        nn.SiLU(),
        nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),
        nn.SiLU(),
        nn.ConvTranspose2d(w, w, 4, stride=2, padding=1),
        nn.SiLU(),
        nn.Conv2d(w, 3, 3, padding=1),
        nn.Tanh(),
    )


def step_rate(patch: int, steps: int) -> float:
    """Samples/s of masked-L1 forward + backward + Adam step at batch 16: the fastest of
    ``steps`` after one warm-up (other work on a shared machine only ever slows a step)."""
    torch.manual_seed(0)
    model = stand_in()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(BATCH, 3, patch, patch) * 2 - 1
    y, mask = torch.rand_like(x) * 2 - 1, torch.ones(BATCH, 1, patch, patch)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y).abs() * mask).mean()
        loss.backward()
        opt.step()

    step()
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return BATCH / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="an existing store (default: build one)")
    parser.add_argument("--batches", type=int, default=8, help="timed batches per setting")
    parser.add_argument("--steps", type=int, default=3, help="training steps per size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            start = time.perf_counter()
            store = build_store(Path(tmp))
            print(f"synthetic store {store} built in {time.perf_counter() - start:.0f} s")
        report(store, args.batches, args.steps)


def report(store: Path, batches: int, steps: int) -> None:
    print(
        f"batch {BATCH}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}; "
        "train split, default DataConfig (patch mode, sza < 80, augmentation on)"
    )
    head = ("patch", "workers", "first batch s", "loader samples/s", "step samples/s*", "ratio")
    print(" | ".join(head))
    print(" | ".join("-" * len(h) for h in head))
    for patch in PATCHES:
        consumed = step_rate(patch, steps)
        for workers in WORKERS:
            first, rate = loader_rate(store, patch, workers, batches)
            row = (patch, workers, f"{first:.2f}", f"{rate:.0f}", f"{consumed:.1f}")
            cells = [str(c).rjust(len(h)) for c, h in zip(row, head, strict=False)]
            print(" | ".join([*cells, f"{rate / consumed:.1f}x".rjust(len(head[-1]))]))
    print(
        "* forward + backward + Adam step of a small stand-in conv net (not the project's "
        "model) on this CPU; ratio = loader / step: above 1, loading keeps up with compute."
    )


if __name__ == "__main__":
    main()
