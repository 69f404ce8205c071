"""Fetch at years: the plan and the resume decision for 5 years of M1 at 10 minutes
(43,824 hour folders, 1.58M wanted files), from a synthetic listing and manifest.

    python benchmarks/fetch_scale.py run --work /work/fetchscale [--years 2019-2023]
    python benchmarks/fetch_scale.py run --work DIR --start 2019-01-01 --end 2019-06-30

No network: a fake s3fs answers ``ls(prefix, detail=True)`` with an hour of ``ABI-L1b-RadM`` as
NOAA's holds it: M1 and M2 (one folder), 60 scans, 16 bands: 1,920 entries, made on the fly
(84M are never stored); the CPU spent making them is summed and subtracted from the step's time.

Steps, each in its own process (wall seconds, peak RSS of the process tree, polled):
``select``: ``prefixes`` + ``select`` over every hour folder, one thread (the plan's own cost);
``resume``: ``job.decide`` (``Manifest`` load, ``is_complete`` in chunks over a thread pool,
the missing/theirs/todo split) against sparse local files (truncated to their size: inodes,
no blocks) that a manifest records as copied; built once under --work from select's output;
``list``: ``list_wanted`` itself (its thread pool, bar and sort), stopped past --max-gb.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import psutil

from hpc_vqvae.fetch.config import FetchConfig
from hpc_vqvae.fetch.job import decide, list_wanted
from hpc_vqvae.fetch.plan import Remote, prefixes, select
from hpc_vqvae.fetch.transfer import MANIFEST, Copied

PER_HOUR = 2 * 60 * 16  # M1 and M2, a scan a minute, 16 bands
SCANS = {"M1": ("274", "331", "380"), "M2": ("574", "631", "680")}  # s, e, c: SS + tenth
SIZE = {1: 1_500_000, 2: 6_000_000, 3: 1_500_000, 5: 1_500_000}  # bytes; others 400 kB
BUILT = ".fetch-scale-built"


def hour_listing(path: str) -> list[dict]:
    """s3fs ``ls(detail=True)`` of ``bucket/ABI-L1b-RadM/YYYY/JJJ/HH/``: deterministic, so the
    manifest built from one run's output matches the next run's listing."""
    bucket, _, year, doy, hour = path.strip("/").split("/")
    satellite, mode = f"G{bucket[-2:]}", 3 if (int(year), int(doy)) < (2019, 92) else 6
    out = []
    for k, (sector, (s, e, c)) in enumerate(SCANS.items()):
        for minute in range(60):
            t = f"{year}{doy}{hour}{minute:02d}"
            for band in range(1, 17):
                name = f"OR_ABI-L1b-Rad{sector}-M{mode}C{band:02d}_{satellite}"
                name += f"_s{t}{s}_e{t}{e}_c{t}{c}.nc"
                size = SIZE.get(band, 400_000) + (int(t) * 7 + band) % 65_536
                etag = f'"{int(t) * 2 + k:023x}{band:09x}"'
                out.append({"name": path + name, "size": size, "ETag": etag, "type": "file"})
    return out


class FakeS3:
    """What ``list_wanted`` calls on s3fs; the CPU its listings cost is summed so that the
    step's time is the project's code alone."""

    def __init__(self) -> None:
        self.cpu_s, self.entries, self._lock = 0.0, 0, threading.Lock()

    def ls(self, path: str, detail: bool = True, refresh: bool = True) -> list[dict]:
        t0 = time.thread_time()
        out = hour_listing(path)
        with self._lock:
            self.cpu_s += time.thread_time() - t0
            self.entries += len(out)
        return out


def plan(cfg: FetchConfig, folder: Path, pooled: bool) -> dict:
    """``list_wanted`` itself (pooled: its threads, a future per hour folder, its bar), or its
    work alone: ``select`` per hour folder in turn, sorted. The latter writes the wanted
    objects (once) for the resume step's build."""
    fs, found, t0 = FakeS3(), [], time.perf_counter()
    if pooled:
        found = list_wanted(fs, cfg)[0]
    else:
        for prefix in prefixes(cfg):
            found += select(prefix, fs.ls(prefix.path), cfg)
        found.sort(key=lambda r: r.key)
    wall, out = time.perf_counter() - t0, folder / "wanted.tsv"
    if not pooled and not out.is_file():
        with out.with_suffix(".tmp").open("w") as f:
            f.writelines(f"{r.key}\t{r.size}\t{r.etag}\n" for r in found)
        out.with_suffix(".tmp").rename(out)
    return {"listed": fs.entries, "wanted": len(found), "s": wall - fs.cpu_s, "gen_s": fs.cpu_s}


def read_wanted(folder: Path) -> list[Remote]:
    """select's output, line by line (no copy of the whole file in memory)."""
    with (folder / "wanted.tsv").open() as f:
        return [Remote(k, int(n), e) for k, n, e in (line.rstrip("\n").split("\t") for line in f)]


def step_resume(cfg: FetchConfig, folder: Path) -> dict:
    """``job.decide``: what a rerun decides before it copies."""
    t0 = time.perf_counter()
    wanted = read_wanted(folder)  # list_wanted's output, in memory in a real run too
    t1 = time.perf_counter()
    plan = decide(cfg, wanted)
    manifest, theirs, todo = plan.manifest, plan.theirs, plan.todo
    s = time.perf_counter() - t1
    decision = f"({len(manifest.entries):,} manifest lines): {plan.here:,} "
    decision += f"already here, {len(theirs)} theirs, {len(todo)} todo"
    return {"listed": len(manifest.entries), "wanted": len(wanted), "s": s, "gen_s": t1 - t0,
            "decision": decision}  # fmt: skip


def build(folder: Path) -> None:
    """Every wanted file as a sparse file of its size, and the manifest ``Manifest.add`` would
    have written for them (its JSON lines, in one write)."""
    dest = folder / "dest"
    if (dest / BUILT).is_file():
        return
    wanted = read_wanted(folder)
    for r in wanted:
        local = dest / r.relative
        local.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT, 0o644)
        os.ftruncate(fd, r.size)
        os.close(fd)
    with (dest / MANIFEST).open("w") as f:
        for r in wanted:
            f.write(json.dumps(asdict(Copied.of(r, dest / r.relative))) + "\n")
    (dest / BUILT).touch()


STEPS = {
    "select": lambda cfg, folder: plan(cfg, folder, pooled=False),
    "resume": step_resume,
    "list": lambda cfg, folder: plan(cfg, folder, pooled=True),
}


def rss(parent: psutil.Process) -> int:
    """The RSS of a process and its children, summed (0 once it is gone)."""
    try:
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.Error:
        return 0


def watch(cmd: list[str], log: Path, max_s: float, max_bytes: float) -> dict:
    """Run ``cmd`` to its end, or stop it past ``max_s`` or ``max_bytes``: wall seconds, the
    peak RSS of its process tree (polled every 0.2 s), and its last stdout line (JSON)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0, peak, stop = time.perf_counter(), 0, False
    with log.open("w") as err, log.with_suffix(".out").open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, rss(parent))
            if stop := time.perf_counter() - t0 > max_s or peak > max_bytes:
                proc.kill()
            time.sleep(0.2)
        proc.wait()
    wall = time.perf_counter() - t0
    lines = log.with_suffix(".out").read_text().splitlines()
    row = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    return {"wall": wall, "gb": peak / 1e9, "ok": proc.returncode == 0, "stopped": stop, **row}


def cells(row: dict, log: Path) -> str:
    """A row's numbers; for a stopped ``list``, how far its tqdm bar got."""
    if row["ok"]:
        return f"{row['listed']:,} | {row['wanted']:,} | {row['s']:.1f} | {row['gb']:.2f} |"
    if not row["stopped"]:
        return f"- | - | failed: see {log} | {row['gb']:.2f} |"
    bar = re.findall(r"list:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)", log.read_text(errors="replace"))
    at = f"hour folder {int(bar[-1][0]):,} of {int(bar[-1][1]):,}" if bar else "its start"
    return f"- | - | stopped after {row['wall']:.0f} s at {at} | > {row['gb']:.2f} |"


def run(args: argparse.Namespace) -> None:
    spec = {"satellite": args.satellite, "every": args.every}
    if args.years:
        spec["years"], label = args.years, args.years
    else:
        spec.update(start=args.start, end=args.end)
        label = f"{args.start}_{args.end}"
    folder = args.work / f"{args.satellite}-M1-{label}-{args.every}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = FetchConfig(dest=folder / "dest", sector="M1", **spec)
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    hours = f"{len(prefixes(cfg)):,} hour folders of {PER_HOUR:,} objects (M1 + M2, 60 scans"
    print(f"\n{hours} x 16 bands); wanted: {cfg.satellite} M1 every {args.every}, {cfg.bands}\n")
    notes, rows = [], []
    for name in args.steps:
        if name == "resume":
            t0 = time.perf_counter()
            build(folder)
            notes.append(f"resume: built in {time.perf_counter() - t0:.0f} s (not counted)")
        cmd = [sys.executable, __file__, "step", name, "--folder", str(folder)]
        log = folder / f"{name}.log"
        row = watch([*cmd, "--spec", json.dumps(spec)], log, args.max_s, args.max_gb * 1e9)
        rows.append(f"| {name} | {cells(row, log)}")
        if row["ok"]:
            what = "reading wanted.tsv" if name == "resume" else "making the listings"
            note = f"{name}: process {row['wall']:.1f} s, of which {what} {row['gen_s']:.1f} s"
            notes.append(f"{note} (not counted) {row.get('decision', '')}")
        print(json.dumps({"step": name, **row}), file=sys.stderr)
    print("| step | objects listed | wanted | s | peak GB |\n|---|---|---|---|---|")
    print("\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", type=Path, required=True)
    r.add_argument("--years", help="e.g. 2019-2023 (default, unless --start/--end)")
    for flag, default in (("--start", None), ("--end", None), ("--every", "10min")):
        r.add_argument(flag, default=default)
    r.add_argument("--satellite", default="G17", help="G16..G19, or east/west")
    r.add_argument("--steps", nargs="+", choices=list(STEPS), default=list(STEPS))
    r.add_argument("--max-s", type=float, default=1800.0)
    r.add_argument("--max-gb", type=float, default=8.0, help="stop a step past this RSS")
    s = sub.add_parser("step")
    s.add_argument("name", choices=list(STEPS))
    s.add_argument("--folder", type=Path, required=True)
    s.add_argument("--spec", type=json.loads, required=True)
    args = p.parse_args()
    if args.cmd == "step":
        cfg = FetchConfig(dest=args.folder / "dest", sector="M1", **args.spec)
        print(json.dumps(STEPS[args.name](cfg, args.folder)))
        return
    if not args.years and not (args.start and args.end):
        args.years = "2019-2023"
    run(args)


if __name__ == "__main__":
    main()
