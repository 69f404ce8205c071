"""Data loader throughput beside what a training step consumes.

    python benchmarks/loader_throughput.py [--store STORE.zarr] [--batches 8] [--steps 3]

Without --store it first writes a small synthetic store (2 days of G17 M1 scans every 3 h,
preprocessed in a subprocess so that MPI stays out of this process) to a temporary folder.
For patch sizes 64/128/256 and num_workers 0/1/2 at batch 16 it prints the DataLoader's
samples/s in steady state (the first batch, with worker start-up, is timed apart) beside the
samples/s that one training step of the tiny config (configs/tiny.yaml: generator and
discriminator, forward + backward + Adam) consumes on this CPU, to show whether loading or
compute is the bottleneck. Default run: ~1.5 min
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

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.data import DataConfig, make_loader
from hpc_vqvae.model import VQGANLoss, build_discriminator, build_generator
from hpc_vqvae.train.config import load_config
from hpc_vqvae.train.steps import discriminator_step, generator_step

REPO = Path(__file__).resolve().parents[1]

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


def step_rate(patch: int, steps: int) -> float:
    """Samples/s of one full training step of the tiny config (generator and discriminator,
    adversarial term on) at batch 16: the fastest of ``steps`` after one warm-up."""
    torch.manual_seed(0)
    cfg = load_config(REPO / "configs" / "tiny.yaml", [f"data.patch_size={patch}"])
    model, disc = build_generator(cfg.model), build_discriminator(cfg.model)
    loss_fn = VQGANLoss(cfg.loss).train()
    opt_g = torch.optim.Adam(model.parameters(), lr=1e-4, betas=cfg.optim.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=cfg.optim.betas)
    x = torch.rand(BATCH, 3, patch, patch) * 2 - 1
    batch = {"ir": x, "vis": torch.rand_like(x) * 2 - 1, "mask": torch.ones(BATCH, 1, patch, patch)}
    step_no = cfg.loss.disc_start  # adversarial term and discriminator both active

    def step() -> None:
        loss, _, rec = generator_step(model, disc, loss_fn, batch, step_no)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        d_loss, _ = discriminator_step(disc, loss_fn, batch, rec, step_no)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

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
        "* one training step of configs/tiny.yaml (generator + discriminator, forward + backward "
        "+ Adam) on this CPU; ratio = loader / step: above 1, loading keeps up with compute."
    )


if __name__ == "__main__":
    main()
