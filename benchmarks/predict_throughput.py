"""Range prediction throughput: scans/s of ``predict --store --start --end`` for 1 and 2 ranks
(mpiexec, gloo) on CPU, and per GPU when one is present.

    python benchmarks/predict_throughput.py [--scans 16] [--ranks 1 2] [--threads 1]
        [--batch-size 4] [--repeat 2] [--workdir DIR]

Builds a synthetic store of ``--scans`` 500 x 500 meso scans and the tiny model (one training
step of configs/tiny.yaml: the weights do not change the cost), then times each rank count:
the whole command (start-up, model load, template and renaming included) and the part it
reports as predicting (from the template to the last shard written, all ranks). ``--threads``
is OMP_NUM_THREADS per rank (``0``: unset, each rank takes its share of the cores); the table
gives the best of
``--repeat`` rounds and each row's speed-up over the first.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from hpc_vqvae.world import free_port

REPO = Path(__file__).resolve().parents[1]


def build(root: Path, scans: int) -> tuple[Path, Path]:
    """A store of ``scans`` scans (hourly, from 2020-05-01T00) and a one-step tiny model."""
    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive

    start = datetime(2020, 5, 1)
    spec = ArchiveSpec(
        root=root / "abi",
        start=start,
        end=start + timedelta(hours=scans - 1, minutes=59),
        every=timedelta(hours=1),
    )
    write_archive(spec)
    env = dict(os.environ, OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu")
    store, run_dir = root / "s.zarr", root / "run"
    preprocess = ["--years", "2020", "--archive", root / "abi", "--output", store]
    subprocess.run(
        [sys.executable, "-m", "hpc_vqvae.preprocess", *map(str, preprocess)],
        check=True,
        capture_output=True,
        env=env,
    )
    train = [
        "--config", REPO / "configs" / "tiny.yaml", "--run-dir", run_dir, f"data.store={store}",
        "train.max_steps=1", "train.val_every=100", "data.test_fraction=0",
        f"train.tracking_uri=sqlite:///{root}/m.db",
    ]  # fmt: skip
    subprocess.run([sys.executable, "-m", "hpc_vqvae.train", *map(str, train)],
                   check=True, capture_output=True, env=env)  # fmt: skip
    return store, run_dir


def predict_s(
    store: Path, run_dir: Path, out: Path, ranks: int, threads: int, batch: int
) -> tuple[float, float]:
    args = [
        "-m", "hpc_vqvae.predict", "--checkpoint", run_dir, "--store", store,
        "--start", "2020-01-01", "--end", "2020-12-31", "--batch-size", batch, "--output", out,
    ]  # fmt: skip
    cmd = [sys.executable, *map(str, args)]
    if ranks > 1:
        cmd = [shutil.which("mpiexec") or "mpiexec", "-n", str(ranks), *cmd]
    env = dict(os.environ, MASTER_PORT=str(free_port()), GLOO_SOCKET_IFNAME="lo")
    env.pop("OMP_NUM_THREADS", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    return wall, float(re.search(r"([\d.]+) s predicting", proc.stdout).group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=16)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS per rank; 0: unset")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--workdir", type=Path, help="keep the store and model here (reused)")
    args = p.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="predict-bench-"))
    if (root / "run" / "generator").is_dir():
        store, run_dir = root / "s.zarr", root / "run"
    else:
        store, run_dir = build(root, args.scans)
    times: dict[int, list[tuple[float, float]]] = {n: [] for n in args.ranks}
    for _ in range(args.repeat):  # rounds interleave the rank counts
        for n in args.ranks:
            times[n].append(predict_s(store, run_dir, root / "out.zarr", n, args.threads,
                                      args.batch_size))  # fmt: skip
    threads = args.threads or "share of cores"
    print(f"{args.scans} scans of 500x500, batch {args.batch_size}, threads/rank {threads}, "
          f"{os.cpu_count()} cores; best of {args.repeat}")  # fmt: skip
    print("| ranks | command s | scans/s | speed-up | predicting s | scans/s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    base = [min(t[i] for t in times[args.ranks[0]]) for i in (0, 1)]
    for n in args.ranks:
        cells = []
        for i in (0, 1):
            best = min(t[i] for t in times[n])
            cells += [f"{best:.1f}", f"{args.scans / best:.2f}", f"{base[i] / best:.2f}x"]
        print(f"| {n} | " + " | ".join(cells) + " |")
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
