"""Preprocessing throughput: this stage with 1 and 2 MPI ranks beside a satpy pipeline doing
the same per scan and the floor (decode the same netCDF, block-mean, encode the same Zarr).

    python benchmarks/preprocess_throughput.py [--scans 24] [--archive DIR]

Prints a table of seconds per scan, scans/s and input MB/s. The stage's times come from its
report: the per-scan phase (slowest rank) and the whole job (catalog, template, statistics and
consolidation included; interpreter start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np
import zarr

from hpc_vqvae.abi.synthetic import ArchiveSpec, write_archive
from hpc_vqvae.preprocess.catalog import build_catalog
from hpc_vqvae.preprocess.config import DEFAULT_CONFIG, load_config
from hpc_vqvae.abi.resample import block_mean

BANDS = ["C11", "C13", "C14", "C01", "C02", "C03"]


def stage(archive: Path, out: Path, ranks: int) -> dict:
    config = out.with_suffix(".yaml")  # shards of 2 scans: 24 scans deal evenly to 2 ranks
    config.write_text(
        DEFAULT_CONFIG.read_text().replace("scans_per_shard: 8", "scans_per_shard: 2")
    )
    cmd = [
        sys.executable,
        "-m",
        "hpc_vqvae.preprocess",
        "--years",
        "2020",
        "--archive",
        str(archive),
        "--output",
        str(out),
        "--overwrite",
        "--config",
        str(config),
    ]
    if ranks > 1:
        cmd = [shutil.which("mpiexec") or "mpiexec", "-n", str(ranks), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return json.loads(out.with_name(out.name + ".report.json").read_text())


def satpy_pipeline(scans, out: Path) -> float:
    from satpy import Scene

    group = zarr.open_group(out, mode="w")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, scan in enumerate(scans):
            scn = Scene(reader="abi_l1b", filenames=[str(scan.files[b]) for b in BANDS])
            scn.load(BANDS)
            low = scn.resample(scn.coarsest_area(), resampler="native")
            for b in BANDS:
                group.create_array(
                    f"{i}/{b}",
                    data=low[b].values.astype(np.float32),
                    compressors=[zarr.codecs.ZstdCodec(level=3)],
                )
    return time.perf_counter() - t0


def floor(scans, out: Path) -> float:
    """Only what cannot be avoided: inflate the counts, average to 2 km, compress the result."""
    group = zarr.open_group(out, mode="w")
    t0 = time.perf_counter()
    for i, scan in enumerate(scans):
        for b in BANDS:
            with netCDF4.Dataset(scan.files[b]) as ds:
                ds.set_auto_maskandscale(False)
                counts = ds["Rad"][...].view(np.uint16).astype(np.float32)
            factor = counts.shape[0] // 500
            group.create_array(
                f"{i}/{b}",
                data=block_mean(counts, factor, 1),
                compressors=[zarr.codecs.ZstdCodec(level=3)],
            )
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=24)
    p.add_argument("--archive", type=Path, help="reuse a synthetic archive (year 2020)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pre-"))
    try:
        archive = args.archive or tmp / "abi"
        if args.archive is None:
            start = datetime(2020, 6, 1)
            spec = ArchiveSpec(
                root=archive, start=start, end=start + timedelta(days=1), every=timedelta(hours=1)
            )
            write_archive(spec)
        cfg = load_config(None, {"archive": archive, "output": tmp / "x", "years": "2020"})
        scans = build_catalog(cfg).scans[: args.scans]
        mb = sum(f.stat().st_size for s in scans for f in s.files.values()) / 1e6 / len(scans)
        rows = []
        for ranks in (1, 2):
            rep = stage(archive, tmp / f"stage{ranks}.zarr", ranks)
            name = f"hpc_vqvae.preprocess, {ranks} rank(s)"
            rows.append((f"{name}, per-scan phase", rep["work_s"] / rep["written"]))
            rows.append((f"{name}, whole job", rep["wall_s"] / rep["written"]))
        rows.append(
            (
                "satpy: load, native resample, Zarr (1 proc)",
                satpy_pipeline(scans, tmp / "satpy.zarr") / len(scans),
            )
        )
        rows.append(
            (
                "floor: inflate, block-mean, Zarr (1 proc)",
                floor(scans, tmp / "floor.zarr") / len(scans),
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(scans)} meso scans, {mb:.1f} MB of L1b input per scan, bands {','.join(BANDS)}")
    width = max(len(r[0]) for r in rows)
    print(f"{'pipeline':<{width}}  {'s/scan':>7}  {'scans/s':>7}  {'MB/s':>6}")
    for name, s in rows:
        print(f"{name:<{width}}  {s:7.3f}  {1 / s:7.2f}  {mb / s:6.1f}")
    one, one_job, two, two_job, sat, flo = (r[1] for r in rows)
    print(
        f"per-scan phase: speed-up 1 -> 2 ranks {one / two:.2f}x, vs satpy {sat / one:.2f}x, "
        f"1 rank / floor {one / flo:.2f}x"
    )
    print(
        f"whole job: speed-up 1 -> 2 ranks {one_job / two_job:.2f}x, vs satpy "
        f"{sat / one_job:.2f}x, 1 rank / floor {one_job / flo:.2f}x"
    )


if __name__ == "__main__":
    main()
