"""``python -m hpc_vqvae.launch --config configs/X.yaml [k=v ...] --nodes N --gpus-per-node G``:
submit the training job to Slurm through submitit (or run it as N local processes with
``--local``), print where to look, and by default wait for it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.launch", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--config", type=Path, required=True, help="training config, e.g. configs/tiny.yaml"
    )
    p.add_argument("overrides", nargs="*", help="training overrides, e.g. train.max_steps=100")
    p.add_argument("--run-dir", type=Path, help="default: <train.out_dir>/<config name>")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=0, help="0: CPU nodes (gloo)")
    p.add_argument("--tasks-per-node", type=int, help="default: one per GPU, else one")
    p.add_argument("--cpus-per-task", type=int, default=1)
    p.add_argument("--mem-gb", type=float)
    p.add_argument("--partition")
    p.add_argument("--account")
    p.add_argument("--time", default="24:00:00", help="Slurm time limit (M, H:M:S, D-H:M:S)")
    p.add_argument("--name", default="hpc-vqvae", help="job name")
    p.add_argument("--folder", type=Path, default=Path("logs/submitit"), help="submitit's folder")
    p.add_argument("--local", action="store_true", help="nodes x tasks processes here, no Slurm")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="submit and return")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the config, its files and the store as a submission does, then print the "
        "sbatch script; submit nothing",
    )
    return p


def _last_error(message: str) -> str:
    """The exception line of the remote traceback inside submitit's FailedJobError text."""
    lines = [ln for ln in message.splitlines() if ln.strip()]
    bars = [i for i, ln in enumerate(lines) if ln.startswith("-----")]
    return lines[bars[1] - 1].strip() if len(bars) >= 2 else lines[-1].strip()


def follow(job, poll_s: float = 1.0) -> None:
    """Echo rank 0's log while the job runs (queued, running, requeued), so progress shows."""
    seen = 0
    while True:
        done = job.done()
        path = job.paths.stdout
        if path.exists():
            with path.open("rb") as f:
                f.seek(seen)
                chunk = f.read()
            seen += len(chunk)
            print(chunk.decode(errors="replace"), end="", flush=True)
        if done:
            return
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    from ..cli import exit_code

    return exit_code(lambda: _launch(args))


def _launch(args: argparse.Namespace) -> int:
    """Every check a submission makes (config, files, the store), then the job: printed with
    --dry-run, else submitted and, by default, followed. A refusal is a UsageError, before
    anything is queued or written."""
    from ..data.preflight import preflight
    from ..errors import UsageError
    from ..tracking import for_training
    from ..train.config import check_files, load_config
    from .config import LaunchConfig, minutes
    from .executor import make_executor, require_slurm, sbatch_text
    from .job import TrainJob

    try:
        time_min = minutes(args.time)
    except ValueError as err:
        raise UsageError(f"--time {err}") from None
    cfg = LaunchConfig.parse(
        **{k: v for k, v in vars(args).items() if k not in ("time", "wait", "dry_run")},
        time_min=time_min,
    )
    train_cfg = load_config(cfg.config, cfg.overrides)  # fail here, not in the queue
    run_dir = cfg.run_dir or train_cfg.train.out_dir / cfg.config.stem
    job = TrainJob(cfg.config, cfg.overrides, run_dir, cfg.gpus_per_node > 0)
    if not (cfg.local or args.dry_run):  # a dry run is for machines without Slurm, too
        require_slurm()
    check_files(train_cfg)
    data = preflight(train_cfg.data)
    if args.dry_run:
        print(sbatch_text(cfg, job), end="")
        return 0
    job = make_executor(cfg).submit(job)
    where = "locally" if cfg.local else "to Slurm"
    print(f"submitted job {job.job_id} {where}: {cfg.nodes} node(s) x {cfg.tasks} task(s)")
    print(f"  logs     {job.paths.stdout} (.err beside it; one pair per task)")
    print(f"  run dir  {run_dir.resolve()}")
    print(f"  data     {data}")
    uri = for_training(run_dir, train_cfg.train.tracking_uri)
    print(f"  MLflow   experiment {train_cfg.train.experiment!r}, run {run_dir.name!r} at {uri}")
    return _wait(job, uri) if args.wait else 0


def _wait(job, uri: str) -> int:
    """Follow the job to its end; its result and where its runs are in MLflow's UI, or the
    remote error in one line."""
    from ..tracking import runs_link

    try:
        follow(job)
        results = job.results()
    except Exception as err:  # the job failed: submitit carries the remote traceback
        print(f"job {job.job_id} failed: {_last_error(str(err))}", file=sys.stderr)
        print(f"  see {job.paths.stderr}", file=sys.stderr)
        return 1
    main_result = results[0]
    print(
        f"job {job.job_id} {main_result['status']} at step {main_result['step']}: "
        f"MLflow run {main_result['run_id']}"
    )
    link = main_result.get("experiment_id") and runs_link(uri, main_result["experiment_id"])
    if link:
        print(f"  MLflow runs: {link}")
    return 0 if main_result["status"] == "FINISHED" else 1


if __name__ == "__main__":
    sys.exit(main())
