"""``python -m hpc_vqvae.train --config configs/X.yaml [section.key=value ...]``: the one
training entry point that torchrun, srun, mpiexec and submitit all call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_REQUEUE = 75  # EX_TEMPFAIL: stopped by SIGUSR2 after a checkpoint; requeue and resume


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.train", description=__doc__.splitlines()[0]
    )
    p.add_argument("--config", type=Path, required=True, help="e.g. configs/tiny.yaml")
    p.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.max_steps=100")
    p.add_argument("--run-dir", type=Path, help="default: <train.out_dir>/<config name>")
    p.add_argument(
        "--resume",
        default="auto",
        help="auto (latest complete checkpoint of the run dir, if any), none, or a path",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh: clear the run dir first (only a run dir of hpc-vqvae, never "
        "another folder)",
    )
    p.add_argument(
        "--register",
        metavar="NAME",
        help="put the finished run's MLflow model in the model registry as NAME",
    )
    p.add_argument(
        "--stop-after-steps",
        type=int,
        default=None,
        help="checkpoint and stop after this many steps of this launch (job chaining)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    from ..cli import exit_code
    from ..world import detect

    def body() -> int:
        from .config import check_files, load_config

        cfg = load_config(args.config, args.overrides)
        check_files(cfg)
        from .loop import train  # its first check: the store, by rank 0 for every rank

        run_dir = args.run_dir or cfg.train.out_dir / args.config.stem
        result = train(  # a UsageError here: the run dir is a user's folder, or another job's
            cfg,
            run_dir,
            resume=args.resume,
            stop_after=args.stop_after_steps,
            overwrite=args.overwrite,
            register=args.register,
        )
        if result["requeue"]:
            return EXIT_REQUEUE
        return 0 if result["status"] in ("FINISHED", "KILLED") else 1

    # one line for the job, not one per rank
    return exit_code(body, speaks=lambda: detect().is_main)


if __name__ == "__main__":
    sys.exit(main())
