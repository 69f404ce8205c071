"""``python -m hpc_vqvae.evaluate --checkpoint RUN|EXPORT|RUN_ID --store STORE.zarr``: the
paper's table (SSIM, PSNR, RMSE, MAE, LPIPS) of the model on the test days recorded with its
run (or a time range clear of its training days), beside a least-squares and an inverted-IR
baseline, with 95% intervals from a bootstrap over days, breakdowns by channel, solar zenith
(twilight included), month or hour, in the model's own convention or the paper's; one process
or many (torchrun, srun, mpiexec)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    from ..predict.flags import model_flags

    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.evaluate",
        description=__doc__.splitlines()[0],
        parents=[model_flags("the run's own, else $MLFLOW_TRACKING_URI")],
    )
    p.add_argument("--store", type=Path, required=True, help="the preprocessed store")
    p.add_argument("--split", choices=["test", "val"], default="test", help="the model's own split")
    p.add_argument("--start", help="instead of --split: first scan start (UTC)")
    p.add_argument(
        "--end", help="with --start: last scan start, inclusive at the precision given (UTC)"
    )
    p.add_argument(
        "--in-sample",
        action="store_true",
        help="score --start/--end scans on days the model trained on or that buffer them "
        "(refused otherwise), labelled in_sample",
    )
    p.add_argument(
        "--convention",
        choices=["model", "paper"],
        default="model",
        help="model: the model's own target and data range; paper: plain reflectance factor "
        "clipped to [0, 1], data range 1 (default %(default)s)",
    )
    p.add_argument(
        "--compare",
        metavar="CHECKPOINT",
        help="a second trained model (e.g. the U-Net of configs/unet.yaml, trained on the "
        "same split) scored in the same table, with its difference from the model",
    )
    p.add_argument("--by", default="sza", help="breakdowns besides the channels: sza,month,hour")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--plot", type=Path, help="scores by solar zenith, as a PNG")
    p.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="whole scans per forward pass (default %(default)s)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .. import outputs
    from ..cli import exit_code
    from ..distributed import leave
    from ..world import detect

    world = detect()

    def body() -> int:
        outputs.check_plot(args.plot)  # before the work, not after it
        report, meta = _run(args, world)
        leave()  # the scores are reduced: nothing below is collective
        return _show(report, meta, args) if world.is_main else 0

    return exit_code(body, speaks=lambda: world.is_main)  # one line for the job, not one per rank


def _show(report: dict, meta: dict, args) -> int:
    """Rank 0: the table or JSON, the plot, and the MLflow note."""
    from .report import plot, table

    print(json.dumps(report, indent=2) if args.format == "json" else table(report))
    if args.plot:
        plot(report, args.plot)
    note = _log_to_mlflow(report, meta, args)
    if note:
        print(note, file=sys.stderr)
    return 0


def _run(args, world) -> tuple[dict, dict]:
    from ..distributed import decided_by_rank_0
    from ..errors import UsageError
    from ..model.translator import Translator
    from ..predict.checkpoint import resolve_checkpoint
    from ..predict.sources import parse_end, parse_time, select_scans
    from ..store import Store
    from .conventions import record
    from .report import summary
    from .run import evaluate
    from .scans import Selection, by_range, by_split

    bys = {b.strip() for b in args.by.split(",") if b.strip()}
    if bys - {"sza", "month", "hour"}:
        raise UsageError(f"--by {args.by}: choose among sza, month, hour")
    if (args.start is None) != (args.end is None):
        raise UsageError("--start and --end go together")
    if args.in_sample and args.start is None:
        raise UsageError("--in-sample goes with --start/--end: a split's days are held out")
    checkpoint = resolve_checkpoint(args.checkpoint, args.tracking_uri)
    model = Translator.load(checkpoint, args.device)
    if world.size > 1:
        from ..world import setup

        setup(world, engines=False)

    def select() -> Selection:
        if args.start is None:
            model.check_store(Store.open(args.store))
            return by_split(model, args.store, args.split)
        start, end = parse_time("--start", args.start), parse_end("--end", args.end)
        scans = select_scans(args.store, start, end)
        model.check_store(scans.store)
        return by_range(model, args.store, scans.index, scans.time, args.in_sample)

    sel = decided_by_rank_0(select)  # what reads every scan's time and the split: once
    lpips, reason = _lpips(model)
    compared = _compared(args, model)
    scores = evaluate(
        model, sel, bys, args.device, args.batch_size, lpips, world.rank, world.size,
        args.convention, compared,
    )  # fmt: skip
    extra = {
        "checkpoint": str(checkpoint),
        "store": str(args.store),
        "selection": sel.label,
        "in_sample": sel.in_sample,
        "scans": len(sel.positions),
        "target": _convention(model),
        "convention": record(model, args.convention, model.data_cfg.patch_size),
        "target_sza_max": model.data_cfg.target_sza_max,
        "ranks": world.size,
    }
    return summary(scores, extra, reason), model.meta


def _compared(args, model):
    """The --compare model, once it is known to predict what the model predicts, from the same
    bands, having trained on the same days: else their scores are not of one thing."""
    if not args.compare:
        return None
    from ..errors import UsageError
    from ..model.translator import Translator
    from ..predict.checkpoint import resolve_checkpoint

    other = Translator.load(resolve_checkpoint(args.compare, args.tracking_uri), args.device)
    mine, theirs = model.data_cfg, other.data_cfg
    for key in ("input_bands", "target", "divide_by_cos_sza", "reflectance_max"):
        if getattr(mine, key) != getattr(theirs, key):
            raise UsageError(f"--compare {args.compare}: its data.{key} differs from the model's")
    if other.meta.get("split", {}).get("train_days") != model.meta.get("split", {}).get(
        "train_days"
    ):
        raise UsageError(f"--compare {args.compare}: it trained on other days than the model")
    return other


def _convention(model) -> str:
    if model.sun_normalised:
        return "sun-normalised reflectance (reflectance factor / cos(solar zenith))"
    return "reflectance factor at the scan's own solar geometry"


def _lpips(model):
    """LPIPS from the weight file the run's loss config names, or why there is none."""
    from ..model.lpips import LPIPS

    path = model.meta["config"]["loss"].get("lpips_weights")
    if not path:
        return None, "no LPIPS weights configured (loss.lpips_weights; see hpc_vqvae.model.lpips)"
    if not Path(path).is_file():
        return None, f"LPIPS weights {path} not found here"
    return LPIPS.from_file(path).to(model.device), None


def _log_to_mlflow(report: dict, meta: dict, args) -> str | None:
    """Into the checkpoint's MLflow run, when it has one and a tracking URI is known."""
    run_id = meta.get("mlflow_run_id")
    if not run_id:
        return "not logged to MLflow: the checkpoint names no run"
    from .. import tracking
    from .report import mlflow_metrics

    uri = tracking.resolve(args.tracking_uri, recorded=meta.get("tracking_uri"))
    if uri is None:
        return "not logged to MLflow: give --tracking-uri (or MLFLOW_TRACKING_URI)"
    if tracking.missing_db(uri):
        return f"not logged to MLflow: {uri} does not exist here"
    client = tracking.client(uri)
    for key, value in mlflow_metrics(report).items():
        client.log_metric(run_id, key, value, step=int(meta.get("step", 0)))
    if args.plot:
        client.log_artifact(run_id, str(args.plot), "eval")
    return f"logged eval/ metrics to MLflow run {run_id} at {uri}"


if __name__ == "__main__":
    sys.exit(main())
