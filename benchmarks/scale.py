"""Every stage's set-up at archive scale: stores of 26,300, 263,000 and 2,630,000 scans.

    python benchmarks/scale.py build --from SMALL --scans N [--every 10min] --out BIG
    python benchmarks/scale.py measure --store BIG [--model RUN_DIR] [--ranks 1 2]
    python benchmarks/scale.py run --work DIR [--scans 26300 263000 2630000] [--every 10min ...]

``build`` makes a store of N scans from a small one that ``preprocess`` wrote: the writer's own
template (so the layout is today's), the per-scan arrays written for N scans (a scan every
``--every`` from 2019-01-01), and the data shards hard-linked from the small store's, so the
data is real and costs no disk. The small store must hold at least one whole shard of the
size a store of N scans gets (``layout.shard_sizes``); ``run`` makes it.

``run``'s cadence is one for every N or one per N; by default 10 minutes for 26,300 and
263,000 scans (half a year and five years) and 1 minute for 2,630,000 (five years of meso).

``measure`` times each set-up step in a fresh process (imports included) and prints a table of
wall seconds and the peak RSS of the largest rank. Commands run until the point named (the
first training step, the first shard predicted, the first scan scored) and are then stopped.
``run`` does it all: a synthetic archive, the small stores, a tiny model, the big stores,
the table. Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import psutil
from scale_store import STEPS, build, files, metadata_mb, step, write_listing

from hpc_vqvae.abi.selection import parse_every
from hpc_vqvae.store import Store, layout

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"
LIMIT_S = 300  # a step still running after this is stopped and shown as "> 300"
LIMIT_RSS = 8e9  # or holding this much (bytes, one process): this machine has 23 GB


# --- measuring commands ---------------------------------------------------------------------------


def _tree(parent: psutil.Process) -> list[psutil.Process]:
    try:
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def watch(cmd: list[str], done: Callable[[str], bool] | None, log: Path) -> dict:
    """Run ``cmd`` until ``done(its output so far)`` (None: until it exits, which must be 0);
    wall seconds and the peak RSS of its largest Python process (a rank), polled."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu")
    t0, peak, reached = time.perf_counter(), 0, False
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        parent = psutil.Process(proc.pid)
        while proc.poll() is None and time.perf_counter() - t0 < LIMIT_S and peak < LIMIT_RSS:
            for p in _tree(parent):
                try:
                    if "python" in p.name():
                        peak = max(peak, p.memory_info().rss)
                except psutil.Error:
                    pass
            if done is not None and done(log.read_text(errors="replace")):
                reached = True
                break
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        for p in reversed(_tree(parent)):
            try:
                p.kill()
            except psutil.Error:
                pass
        proc.wait()
    if done is None:
        reached = proc.returncode == 0
    return {"s": wall, "rss_gb": peak / 1e9, "ok": reached}


def _mpi(ranks: int, *args) -> list[str]:
    return [shutil.which("mpiexec") or "mpiexec", "-n", str(ranks), sys.executable, *map(str, args)]


def _progress(desc: str) -> Callable[[str], bool]:
    """A tqdm bar named ``desc`` past 0 (its first shard or scan is done)."""
    return lambda text: re.search(rf"{desc}:\s+\d+%\|[^|]*\|\s*[1-9]", text) is not None


def measure(store: Path, model: Path | None, ranks: list[int], work: Path) -> list[dict]:
    rows = []
    table = Store.open(store).table()
    first_day = str(table.time[0].astype("datetime64[D]"))
    whole = [
        str(table.time[0].astype("datetime64[s]")),
        str(table.time[-1].astype("datetime64[s]")),
    ]

    def add(what: str, r: int, result: dict) -> None:
        rows.append({"step": what, "ranks": r, **result})
        print(json.dumps(rows[-1]), file=sys.stderr)

    for name in ("open", "resume"):
        cmd = [sys.executable, __file__, "step", name, "--store", str(store)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT_S * 2)
        add(
            name, 1, json.loads(proc.stdout.strip().splitlines()[-1]) | {"ok": proc.returncode == 0}
        )
    train = ["-m", "hpc_vqvae.train", "--config", TINY, "--run-dir", work / "run"]
    overrides = [
        f"data.store={store}",
        "train.max_steps=1",
        "train.log_every=1",
        "train.precision=fp32",
        "train.batch_size=2",
        "data.patch_size=32",
    ]
    dry = [sys.executable, "-m", "hpc_vqvae.launch", "--config", TINY, "--dry-run", *overrides]
    add("launch --dry-run", 1, watch(dry, None, work / "dry.log"))
    for r in ranks:
        shutil.rmtree(work / "run", ignore_errors=True)
        first_step = lambda _: (work / "run" / "metrics.jsonl").is_file()  # noqa: E731
        add(
            "train: to its first step",
            r,
            watch(_mpi(r, *train, *overrides), first_step, work / f"train{r}.log"),
        )
        if model is None:
            continue
        for what, span in (("whole range", whole), ("one day", [first_day, first_day + "T23:59"])):
            out = work / f"night{r}.zarr"
            shutil.rmtree(out, ignore_errors=True)
            cmd = _mpi(
                r,
                "-m",
                "hpc_vqvae.predict",
                "--checkpoint",
                model,
                "--store",
                store,
                "--start",
                span[0],
                "--end",
                span[1],
                "--output",
                out,
            )
            add(
                f"predict --store, {what}: to its first shard",
                r,
                watch(cmd, _progress("predict"), work / f"predict{r}.log"),
            )
        cmd = _mpi(r, "-m", "hpc_vqvae.evaluate", "--checkpoint", model, "--store", store)
        add(
            "evaluate --split test: to its first scan",
            r,
            watch(cmd, _progress("evaluate"), work / f"evaluate{r}.log"),
        )
    # last: it grows the store by a month (run builds it again next time)
    cmd = [sys.executable, __file__, "step", "append", "--store", str(store)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT_S * 2)
    add("append a month", 1, json.loads(proc.stdout.strip().splitlines()[-1]) | {"ok": True})
    return rows


def print_table(results: dict[int, dict]) -> None:
    ns = sorted(results)
    print("| step | ranks | " + " | ".join(f"N = {n:,}" for n in ns) + " |")
    print("|---|---|" + "---|" * len(ns))
    keys = [(r["step"], r["ranks"]) for r in results[ns[0]]["rows"]]
    for key in keys:
        cells = []
        for n in ns:
            row = next((r for r in results[n]["rows"] if (r["step"], r["ranks"]) == key), None)
            if row is None:
                cells.append("-")
                continue
            s = f"{row['s']:.1f} s" if row["ok"] else f"> {row['s']:.0f} s (stopped)"
            cells.append(f"{s}, {row['rss_gb']:.2f} GB")
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    print("| files in the store | | " + " | ".join(f"{results[n]['files']:,}" for n in ns) + " |")
    print("| metadata (MB) | | " + " | ".join(f"{results[n]['meta_mb']:.0f}" for n in ns) + " |")


# --- everything ----------------------------------------------------------------------------------


def _sh(*cmd, **kw) -> None:
    print("+", " ".join(map(str, cmd)), file=sys.stderr)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def _holds(path: Path, n: int, every: timedelta) -> bool:
    try:
        time = Store.open(path).table().time
        return len(time) == n and time[1] - time[0] == np.timedelta64(every)
    except Exception:  # noqa: BLE001 (absent or unfinished: build it)
        return False


def run(work: Path, scans: list[int], cadences: list[timedelta], ranks: list[int]) -> None:
    """``cadences``: one for every N, or one per N (5 years at 10 min, then at 1 min)."""
    if len(cadences) not in (1, len(scans)):
        sys.exit(f"--every: one cadence, or one per --scans ({len(scans)})")
    every_of = dict(zip(scans, cadences * (len(scans) // len(cadences)), strict=True))
    work.mkdir(parents=True, exist_ok=True)
    archive = work / "abi"
    if not archive.exists():  # 6 days of 24 daytime scans: 144, a whole shard of 128
        _sh(
            sys.executable,
            "-m",
            "hpc_vqvae.synth",
            "--archive",
            archive,
            "--start",
            "2020-05-01",
            "--end",
            "2020-05-06",
            "--every",
            "10min",
            "--hours",
            "18-21",
        )
    smalls = {}
    for n in scans:
        shard = layout.shard_sizes(n, 7)[0]
        smalls[n] = work / f"small-{shard}.zarr"
        if not smalls[n].exists():
            config = work / f"preprocess-{shard}.yaml"
            text = (REPO / "configs" / "preprocess.yaml").read_text()
            config.write_text(text.replace("scans_per_shard: null", f"scans_per_shard: {shard}"))
            _sh(
                *_mpi(
                    2,
                    "-m",
                    "hpc_vqvae.preprocess",
                    "--archive",
                    archive,
                    "--output",
                    smalls[n],
                    "--years",
                    "2020",
                    "--satellite",
                    "G17",
                    "--config",
                    config,
                )
            )
    model = work / "model"
    if not (model / "COMPLETE").exists():
        _sh(
            sys.executable,
            "-m",
            "hpc_vqvae.train",
            "--config",
            TINY,
            "--run-dir",
            model,
            f"data.store={smalls[scans[0]]}",
            "train.max_steps=2",
            "train.precision=fp32",
            "train.batch_size=2",
            "data.patch_size=32",
            "data.split_blocks=1",
            "data.buffer_days=0",
            "train.val_every=2",
            "train.val_batches=1",
        )
    results = {}
    for n in scans:
        big = work / f"store-{n}.zarr"
        if not _holds(big, n, every_of[n]):  # unfinished, grown by "append a month", other
            shutil.rmtree(big, ignore_errors=True)  # a store this script built
            build(smalls[n], n, every_of[n], big)
        results[n] = {"files": files(big), "meta_mb": metadata_mb(big)}
        results[n]["rows"] = measure(big, model, ranks, work)
        (work / "scale.json").write_text(json.dumps(results, indent=1, default=str))
    print_table(results)


def catalog(work: Path, scans: list[int], every: timedelta, manifest: bool) -> None:
    """preprocess's catalog from a listing (or fetch's manifest) of N scans x 6 bands, on
    rank 0."""
    work.mkdir(parents=True, exist_ok=True)
    print("| scans | files listed | catalog s | with both shares s | peak GB | share sent MB |")
    print("|---|---|---|---|---|---|")
    for n in scans:
        listing = work / (f"manifest-{n}.jsonl" if manifest else f"listing-{n}.txt")
        if not listing.exists():
            write_listing(listing, n, every, manifest)
        cmd = [sys.executable, __file__, "step", "catalog", "--store", str(listing)]
        log = work / f"catalog-{n}.log"
        row = watch(cmd, None, log)
        if not row["ok"]:
            print(f"| {n:,} | {6 * n:,} | | > {row['s']:.0f} (stopped) | {row['rss_gb']:.2f} | |")
            continue
        row.update(json.loads(log.read_text().splitlines()[-1]))
        print(
            f"| {n:,} | {6 * n:,} | {row['catalog_s']:.1f} | {row['s']:.1f} | "
            f"{row['rss_gb']:.2f} | {row['sent_mb']:.0f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--from", dest="small", type=Path, required=True)
    b.add_argument("--scans", type=int, required=True)
    b.add_argument("--every", type=parse_every, default=timedelta(minutes=10))
    b.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("measure")
    m.add_argument("--store", type=Path, required=True)
    m.add_argument("--model", type=Path)
    m.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    m.add_argument("--work", type=Path, default=Path("scale-work"))
    r = sub.add_parser("run")
    r.add_argument("--work", type=Path, required=True)
    r.add_argument("--scans", type=int, nargs="+", default=[26_300, 263_000, 2_630_000])
    r.add_argument(
        "--every", type=parse_every, nargs="+", default=[timedelta(minutes=m) for m in (10, 10, 1)]
    )
    r.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    c = sub.add_parser("catalog")
    c.add_argument("--work", type=Path, required=True)
    c.add_argument("--scans", type=int, nargs="+", default=[263_000, 2_630_000])
    c.add_argument("--every", type=parse_every, default=timedelta(minutes=1))
    c.add_argument("--manifest", action="store_true", help="fetch's manifest, not a plain list")
    s = sub.add_parser("step")
    s.add_argument("name", choices=sorted(STEPS))
    s.add_argument("--store", type=Path, required=True)
    args = p.parse_args()
    if args.cmd == "build":
        build(args.small, args.scans, args.every, args.out)
    elif args.cmd == "measure":
        args.work.mkdir(parents=True, exist_ok=True)
        rows = measure(args.store, args.model, args.ranks, args.work)
        print_table(
            {0: {"rows": rows, "files": files(args.store), "meta_mb": metadata_mb(args.store)}}
        )
    elif args.cmd == "run":
        run(args.work, args.scans, args.every, args.ranks)
    elif args.cmd == "catalog":
        catalog(args.work, args.scans, args.every, args.manifest)
    else:
        step(args.name, args.store)


if __name__ == "__main__":
    main()
