"""``python -m hpc_vqvae.fetch --dest /data/abi --years 2019-2023``: copy ABI L1b radiance
files from NOAA's public buckets (anonymous) into the buckets' own layout. Rerun to resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..abi.selection import selection_flags
from ..cli import default, exit_code
from .config import FetchConfig, load_config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.fetch",
        description=__doc__.splitlines()[0],
        parents=[selection_flags(every_example="10min")],
    )
    p.add_argument("--dest", type=Path, help="root of the local ABI-L1b-Rad*/YYYY/JJJ/HH tree")
    p.add_argument("--start", help="first UTC day, YYYY-MM-DD (with --end, instead of --years)")
    p.add_argument("--end", help="last UTC day, inclusive")
    bands = ",".join(default(FetchConfig, "bands"))  # type: ignore[arg-type]
    p.add_argument("--bands", help=f"e.g. C13,C14 (default {bands}: preprocessing's bands)")
    p.add_argument(
        "--workers",
        type=int,
        help=f"concurrent transfers (default {default(FetchConfig, 'workers')})",
    )
    p.add_argument(
        "--retries",
        type=int,
        help=f"per file, with backoff (default {default(FetchConfig, 'retries')})",
    )
    p.add_argument("--verify", action="store_true", default=None, help="MD5 every local file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        from .job import run, summary_lines

        report = run(load_config(vars(args)))
        print("\n".join(summary_lines(report)))
        return 1 if report["failed"] or report["left_alone"] else 0

    return exit_code(body)


if __name__ == "__main__":
    sys.exit(main())
