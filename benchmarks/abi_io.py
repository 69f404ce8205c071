"""Synthetic-scan generation and L1b reading speed, one process. Prints a table.

    python benchmarks/abi_io.py [--scans 5]

Generation covers the default bands (C01, C02, C03, C11, C13, C14) of one meso scan, files
written. Reading compares read_band with satpy's abi_l1b reader on the same files.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from hpc_vqvae.abi import parse_name, read_band
from hpc_vqvae.abi.bands import band_name
from hpc_vqvae.abi.synthetic import ArchiveSpec, write_scan


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=5)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = datetime(2019, 7, 1, 18, 0, 27, 500000)
        spec = ArchiveSpec(root=root, start=t0, end=t0 + timedelta(days=1))
        write_scan(spec, t0 - timedelta(hours=1))  # warm-up: imports, template, FFT plans
        gen = _timed(lambda i: write_scan(spec, t0 + timedelta(minutes=i)), args.scans)
        rows.append(("synthesise 1 meso scan (6 bands, files written)", gen))
        files = {parse_name(f).band: f for f in sorted(root.rglob("*.nc"))}
        for band in (2, 1, 13):
            f = files[band]
            rows.append(
                (
                    f"read_band C{band:02d} {read_band(f).shape}",
                    _timed(lambda _i, f=f: read_band(f), 5),
                )
            )
            try:
                from satpy import Scene
            except ImportError:
                continue

            def satpy_load(_i, f=f, band=band):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scn = Scene(reader="abi_l1b", filenames=[str(f)])
                    cal = "brightness_temperature" if band > 6 else "reflectance"
                    scn.load([band_name(band)], calibration=cal)
                    scn[band_name(band)].values  # noqa: B018 (force the dask compute)

            rows.append((f"satpy load+calibrate C{band:02d}", _timed(satpy_load, 5)))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'median s':>9}  {'min s':>7}")
    for name, times in rows:
        print(f"{name:<{width}}  {statistics.median(times):9.3f}  {min(times):7.3f}")


if __name__ == "__main__":
    main()
