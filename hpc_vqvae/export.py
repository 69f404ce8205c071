"""``python -m hpc_vqvae.export RUN_DIR [--step N] [--output DIR]``: a saved checkpoint as an
export that ``predict`` and ``evaluate`` load (``model.safetensors`` with the fp32 weights,
``config.json`` with the run's config, statistics and training store), no DeepSpeed needed
to read it. The weights are DeepSpeed's own fp32 consolidation of the checkpoint: the fp32
masters of a bf16 run, not its rounded copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import exit_code
from .errors import UsageError
from .model.exported import save_export
from .runs import layout
from .train.checkpoint import checkpoint_fp32_weights


def export(run_dir: Path, step: int | None = None, output: Path | None = None) -> Path:
    if not layout.is_run_dir(run_dir):
        raise UsageError(f"{run_dir}: not a training run dir (no {layout.RUN_RECORD})")
    path = layout.step_dir(run_dir, step) if step is not None else layout.latest(run_dir)
    if path is None or not layout.is_complete(path):
        have = [p.name for p in layout.complete(run_dir)]
        raise UsageError(
            f"{run_dir}: no complete checkpoint {'at step ' + str(step) if step else ''} "
            f"(it has {', '.join(have) or 'none'})"
        )
    try:
        weights = checkpoint_fp32_weights(path)
    except ValueError as err:
        raise UsageError(str(err)) from None
    state = layout.read_state(path)
    meta = layout.export_meta(
        run_dir, state["step"], state.get("mlflow_run_id"), source_checkpoint=str(path.resolve())
    )
    return save_export(output or run_dir / layout.EXPORTS / path.name, weights, meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.export", description=__doc__.splitlines()[0]
    )
    p.add_argument("run_dir", type=Path, help="a training run dir")
    p.add_argument("--step", type=int, help="default: the latest complete checkpoint")
    p.add_argument("--output", type=Path, help="default: RUN_DIR/exports/step_NNNNNNNN")
    args = p.parse_args(argv)

    def body() -> int:
        print(f"exported {export(args.run_dir, args.step, args.output)}")
        return 0

    return exit_code(body)


if __name__ == "__main__":
    sys.exit(main())
