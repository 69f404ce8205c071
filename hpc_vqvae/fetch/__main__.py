"""``python -m hpc_vqvae.fetch --dest /data/abi --years 2019-2023``: copy ABI L1b radiance
files from NOAA's public buckets (anonymous) into the buckets' own layout. Rerun to resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..abi.platforms import SATELLITE_CHOICES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.fetch", description=__doc__.splitlines()[0]
    )
    p.add_argument("--dest", type=Path, help="root of the local ABI-L1b-Rad*/YYYY/JJJ/HH tree")
    p.add_argument("--satellite", help=f"{', '.join(SATELLITE_CHOICES)} (default west: the "
                   "operational GOES-West of each day, G17 then G18 from 2023-01-04)")  # fmt: skip
    p.add_argument("--sector", help="F, C, M1 or M2 (default M1)")
    p.add_argument("--years", help="e.g. 2019-2023, 2021 or 2019,2021")
    p.add_argument("--start", help="first UTC day, YYYY-MM-DD (with --end, instead of --years)")
    p.add_argument("--end", help="last UTC day, inclusive")
    p.add_argument("--hours", help="UTC hours to keep, e.g. 18-21 (inclusive)")
    p.add_argument("--every", help="keep scans whose minute of day is a multiple, e.g. 10min")
    p.add_argument("--bands", help="default: the preprocessing stage's input and target bands")
    p.add_argument("--workers", type=int, help="concurrent transfers (default 16)")
    p.add_argument("--retries", type=int, help="per file, with backoff (default 5)")
    p.add_argument("--verify", action="store_true", default=None, help="MD5 every local file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..errors import UsageError
    from .config import load_config
    from .job import run, summary_lines

    try:
        report = run(load_config(vars(args)))
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(report)))
    return 1 if report["failed"] or report["left_alone"] else 0


if __name__ == "__main__":
    sys.exit(main())
