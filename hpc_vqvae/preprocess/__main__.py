"""``[mpiexec -n N | srun] python -m hpc_vqvae.preprocess --years 2019-2023 --archive ROOT
--output STORE.zarr``: see ``--help`` and configs/preprocess.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import exit_code
from .startup import start_mpi


def parser() -> argparse.ArgumentParser:
    # here, not above: h5py (through abi) may import mpi4py.MPI, which must wait for start_mpi
    from ..abi.selection import selection_flags
    from .config import DEFAULT_CONFIG, PreprocessConfig

    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.preprocess",
        description="ABI L1b archive -> Zarr store on the 2 km grid (MPI-parallel, resumable)",
        parents=[selection_flags(every_example="5min")],
    )
    p.add_argument("--archive", type=Path, help="root of the ABI-L1b-Rad*/YYYY/JJJ/HH tree")
    p.add_argument(
        "--catalog",
        type=Path,
        help="the archive's files from a listing instead of a walk: fetch's manifest "
        "(DEST/fetch-manifest.jsonl) or one path per line, e.g. lfs find output",
    )
    p.add_argument("--output", type=Path, help="the Zarr store to write (STORE.zarr)")
    for field in ("input_bands", "target_bands"):
        bands = ",".join(PreprocessConfig.model_fields[field].default)
        p.add_argument(f"--{field.replace('_', '-')}", help=f"e.g. C13,C14 (default {bands})")
    where = DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])
    p.add_argument("--config", type=Path, help=f"YAML defaults (default {where})")
    p.add_argument("--overwrite", action="store_true", default=None, help="rebuild the store")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "config"}
    comm = start_mpi()
    from .config import load_config
    from .parallel import check_launch
    from .pipeline import run, summary_lines

    def body() -> int:
        check_launch(comm)
        report = run(load_config(args.config, overrides), comm)
        if report is not None:
            print("\n".join(summary_lines(report)))
        return 0

    return exit_code(body, speaks=lambda: comm.rank == 0)  # one line for the job, not one per rank


if __name__ == "__main__":
    start_mpi()  # before anything imports mpi4py.MPI, which would initialise MPI its own way
    from .parallel import run_or_abort

    sys.exit(run_or_abort(main))
