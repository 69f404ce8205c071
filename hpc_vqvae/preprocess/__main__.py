"""``[mpiexec -n N | srun] python -m hpc_vqvae.preprocess --years 2019-2023 --archive ROOT
--output STORE.zarr``: see ``--help`` and configs/preprocess.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .startup import start_mpi


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.preprocess",
        description="ABI L1b archive -> Zarr store on the 2 km grid (MPI-parallel, resumable)",
    )
    p.add_argument("--years", help="e.g. 2019-2023, 2021, or 2019,2021")
    p.add_argument("--archive", type=Path, help="root of the ABI-L1b-Rad*/YYYY/JJJ/HH tree")
    p.add_argument("--output", type=Path, help="the Zarr store to write (STORE.zarr)")
    p.add_argument(
        "--satellite",
        help="G16..G19, or east/west: the slot's operational satellite of each day (default "
        "west: G17, then G18 from 2023-01-04)",
    )
    p.add_argument("--sector", help="F, C, M1 or M2")
    p.add_argument("--hours", help="UTC hours to keep, e.g. 18-21 (inclusive)")
    p.add_argument("--every", help="keep scans whose minute of day is a multiple, e.g. 5min")
    p.add_argument("--input-bands", help="e.g. C11,C13,C14")
    p.add_argument("--target-bands", help="e.g. C01,C02,C03")
    p.add_argument("--config", type=Path, help="YAML defaults (configs/preprocess.yaml)")
    p.add_argument("--overwrite", action="store_true", default=None, help="rebuild the store")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "config"}
    comm = start_mpi()
    from ..errors import UsageError
    from .config import load_config
    from .parallel import check_launch
    from .pipeline import run, summary_lines

    try:
        check_launch(comm)
        cfg = load_config(args.config, overrides)
        report = run(cfg, comm)
    except UsageError as err:
        if comm.rank == 0:
            print(f"error: {err}", file=sys.stderr)
        return 2
    if report is not None:
        print("\n".join(summary_lines(report)))
    return 0


if __name__ == "__main__":
    start_mpi()  # before anything imports mpi4py.MPI, which would initialise MPI its own way
    from .parallel import run_or_abort

    sys.exit(run_or_abort(main))
