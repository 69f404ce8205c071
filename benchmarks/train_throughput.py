"""Training throughput of the tiny config on CPU: 1 and 2 ranks (torchrun, gloo) at ZeRO
0/1/2/3, fp32. Prints samples/s, ms/step and, per rank, optimizer state and peak RSS.

    python benchmarks/train_throughput.py [--steps 12] [--store STORE.zarr]

Steps after the first 3 are timed (median). The optimizer state per rank should shrink about
1/N with ZeRO-1/2/3; ZeRO-3 runs with the adaptive weight off (it needs the whole last layer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hpc_vqvae.world import free_port

REPO = Path(__file__).resolve().parents[1]


def build_store(root: Path) -> Path:
    from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive

    spec = ArchiveSpec(
        root=root / "abi",
        start=datetime(2020, 5, 1),
        end=datetime(2020, 5, 2, 23, 59),
        every=timedelta(hours=2),
        hours=tuple(range(17, 24)),
    )
    write_archive(spec)
    cmd = [
        sys.executable,
        "-m",
        "hpc_vqvae.preprocess",
        "--years",
        "2020",
        "--archive",
        str(root / "abi"),
        "--output",
        str(root / "s.zarr"),
    ]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return root / "s.zarr"


def run(store: Path, out: Path, ranks: int, stage: int, steps: int) -> dict:
    overrides = [
        f"data.store={store}",
        f"train.max_steps={steps}",
        "train.log_every=1",
        f"train.val_every={10 * steps}",
        "train.ckpt_every=100000",
        "train.precision=fp32",
        f"train.zero_stage={stage}",
        "loss.disc_start=0",
        f"train.tracking_uri=sqlite:///{out}/m.db",
    ]
    if stage == 3:
        overrides.append("loss.adaptive_weight=false")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={ranks}",
        f"--master_port={free_port()}",
        "-m",
        "hpc_vqvae.train",
        "--config",
        str(REPO / "configs/tiny.yaml"),
        "--run-dir",
        str(out),
        *overrides,
    ]
    env = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()][3:]
    rate = statistics.median(r["train/samples_per_s"] for r in rows)
    res = [json.loads((out / f"resources_rank{r}.json").read_text()) for r in range(ranks)]
    batch = 16 * ranks  # tiny.yaml: 16 per rank
    return {
        "samples_per_s": rate,
        "ms_per_step": 1000 * batch / rate,
        "opt_mb": max(r["optimizer_state_mb"] for r in res),
        "rss_mb": max(r["peak_rss_mb"] for r in res),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--store", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or build_store(Path(tmp))
        print("tiny config, batch 16 per rank, 32 px, fp32, CPU (gloo), 1 thread per rank")
        head = ("ranks", "ZeRO", "samples/s", "ms/step", "optim MB/rank", "peak RSS MB/rank")
        print("  ".join(head))
        for ranks in (1, 2):
            for stage in (0, 1, 2, 3):
                r = run(store, Path(tmp) / f"r{ranks}z{stage}", ranks, stage, args.steps)
                cells = (
                    ranks,
                    stage,
                    f"{r['samples_per_s']:.1f}",
                    f"{r['ms_per_step']:.0f}",
                    f"{r['opt_mb']:.2f}",
                    f"{r['rss_mb']:.0f}",
                )
                row = "  ".join(str(c).rjust(len(h)) for c, h in zip(cells, head, strict=True))
                print(row, flush=True)


if __name__ == "__main__":
    main()
