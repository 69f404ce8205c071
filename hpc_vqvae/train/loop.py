"""The training loop, top to bottom: set up, (resume), then for each step a generator update,
a discriminator update, logging, validation and checkpoints, until max_steps or a stop."""

from __future__ import annotations

import json
import resource
import signal
import time
from pathlib import Path

import torch
import torch.distributed as dist

from ..data import make_loader, open_store
from ..model import VQGANLoss, VQModel, build_discriminator
from . import checkpoint
from .config import Config
from .distributed import any_rank, detect, setup
from .engines import build_engines, optimizer_state_bytes, precision, set_lr
from .schedule import lr_factor
from .steps import train_step
from .tracking import RUN_DIR_TAG, NullTracker, Tracker, default_uri, run_tags
from .validation import sample_grid, validate


class StopFlag:
    """Set by SIGUSR2 (Slurm's warning before preemption or the time limit), SIGTERM or SIGINT;
    acted on at the next step boundary, by every rank at once. SIGUSR2 means "save, then come
    back" (the launcher requeues); the handlers found on entry (submitit's) are put back on
    ``restore`` so that the launcher can act on the stop after training returns."""

    SIGNALS = (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested = False
        self.signum: int | None = None
        self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum, frame) -> None:
        self.requested, self.signum = True, signum

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _batches(loader, epoch: int, start_batch: int):
    """(epoch, batch index, batch) forever, starting at a saved position."""
    loader.sampler.start = start_batch * loader.batch_size
    while True:
        loader.dataset.set_epoch(epoch)
        for i, batch in enumerate(loader, start=start_batch):
            yield epoch, i, batch
        epoch, start_batch = epoch + 1, 0


def _mean_over_ranks(log: dict, device: str) -> dict[str, float]:
    keys = sorted(log)
    t = torch.tensor([float(log[k]) for k in keys], device=device, dtype=torch.float64)
    if dist.is_initialized():
        dist.all_reduce(t)
        t /= dist.get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))


def _write_resources(run_dir: Path, rank: int, g, d) -> None:
    """Per-rank memory figures for benchmarks: optimizer state held here and peak RSS."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info = {
        "optimizer_state_mb": (optimizer_state_bytes(g) + optimizer_state_bytes(d)) / 2**20,
        "peak_rss_mb": peak_kb / 1024,
    }
    if torch.cuda.is_available():
        info["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    (run_dir / f"resources_rank{rank}.json").write_text(json.dumps(info))


def _resume_from(resume: str, run_dir: Path) -> Path | None:
    if resume == "none":
        return None
    if resume == "auto":
        return checkpoint.latest(run_dir)
    path = Path(resume)
    if not (path / "COMPLETE").is_file():
        raise FileNotFoundError(f"--resume {path}: not a complete checkpoint")
    return path


def train(
    cfg: Config, run_dir: Path, *, resume: str = "auto", stop_after: int | None = None
) -> dict:
    """Train on every rank of the job; returns {"step", "status", "run_id", "requeue"}, where
    ``requeue`` says that a SIGUSR2 stopped the run after a checkpoint, so it should go on."""
    world = detect()
    device = setup(world)
    main = world.is_main
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = StopFlag()

    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
    model, disc = VQModel(cfg.model), build_discriminator(cfg.model)
    loss_fn = VQGANLoss(cfg.loss).to(device).train()
    g, d = build_engines(cfg, model, disc, world.size, device)

    state = {"step": 0, "epoch": 0, "batch": 0, "mlflow_run_id": None}
    ckpt = _resume_from(resume, run_dir)
    if ckpt is not None:
        state = checkpoint.load(ckpt, g, d, world.rank)

    uri = default_uri(run_dir, cfg.train.tracking_uri)
    tracker = NullTracker()
    if main:
        tracker = Tracker(
            uri,
            cfg.train.experiment,
            run_dir.name,
            run_id=state["mlflow_run_id"],
            params={**cfg.flat(), "world_size": world.size, "lr": cfg.learning_rate(world.size)},
            tags={**run_tags(world.launcher), RUN_DIR_TAG: str(run_dir.resolve())},
        )
        print(cfg.describe_lr(world.size), flush=True)
        print(
            f"run {run_dir} | {world.size} rank(s) via {world.launcher} on {device} | ZeRO "
            f"{cfg.train.zero_stage} {precision(cfg, device)} | MLflow {uri} run {tracker.run_id}"
            + (f" | resumed from {ckpt.name}" if ckpt else ""),
            flush=True,
        )
    state["mlflow_run_id"] = tracker.run_id
    if dist.is_initialized():
        holder = [state["mlflow_run_id"]]
        dist.broadcast_object_list(holder, src=0)
        state["mlflow_run_id"] = holder[0]

    loader = make_loader(cfg.data, "train", cfg.train.batch_size, world.rank, world.size)
    val_loader = make_loader(cfg.data, "val", cfg.train.batch_size, world.rank, world.size)
    normalizer = loader.dataset.normalizer
    batches = _batches(loader, state["epoch"], state["batch"])
    metrics_file = run_dir / "metrics.jsonl"
    peak = cfg.learning_rate(world.size)
    step, first, status, requeue = state["step"], state["step"], "FINISHED", False
    # Random state last, so that nothing in the set-up above can shift it between an
    # uninterrupted run and a resumed one.
    if "rng" in state:
        checkpoint.set_rng_state(state.pop("rng"))
    else:
        torch.manual_seed(cfg.train.seed + world.rank)
    try:
        while step < cfg.train.max_steps:
            t0 = time.perf_counter()
            lr = peak * lr_factor(step, cfg.optim, cfg.train.max_steps)
            set_lr(g, lr)
            set_lr(d, lr * cfg.optim.disc_lr_scale)
            for _ in range(cfg.train.grad_accum):
                epoch, index, batch = next(batches)
                batch = {k: v.to(device) for k, v in batch.items()}
                log = train_step(g, d, loss_fn, batch, step)
            step += 1
            state.update(step=step, epoch=epoch, batch=index + 1)
            if step % cfg.train.log_every == 0 or step == first + 1:
                samples = cfg.train.batch_size * cfg.train.grad_accum * world.size
                log.update(
                    {"train/lr": lr, "train/samples_per_s": samples / (time.perf_counter() - t0)}
                )
                logged = _mean_over_ranks(log, device)
                tracker.log_metrics(logged, step)
                if main:
                    with metrics_file.open("a") as f:
                        f.write(json.dumps({"step": step, **logged}) + "\n")
                    print(
                        f"step {step}: rec {logged['train/rec_loss']:.4f} perplexity "
                        f"{logged['train/perplexity']:.1f} lr {lr:.2e}",
                        flush=True,
                    )
            if step % cfg.train.val_every == 0 or step == cfg.train.max_steps:
                val, first_batch = validate(
                    g, val_loader, normalizer, cfg.train.val_batches, device
                )
                tracker.log_metrics(val, step)
                if main:
                    print(
                        f"step {step}: val rmse {val['val/rmse']:.4f} ssim {val['val/ssim']:.4f}",
                        flush=True,
                    )
                    tracker.log_artifact(
                        sample_grid(first_batch, run_dir / "samples", step), "samples"
                    )
            stop_now = any_rank(
                stop.requested or (stop_after is not None and step - first >= stop_after), device
            )
            if step % cfg.train.ckpt_every == 0 or stop_now or step == cfg.train.max_steps:
                checkpoint.save(run_dir, step, g, d, dict(state), world.rank)
            if stop_now:
                status = "KILLED"
                requeue = any_rank(stop.signum == signal.SIGUSR2, device)
                if main:
                    print(
                        f"stopped at step {step}; checkpoint saved, resume with --resume auto",
                        flush=True,
                    )
                break
        _write_resources(run_dir, world.rank, g, d)
        if step >= cfg.train.max_steps:
            meta = {
                "config": cfg.model_dump(mode="json"),
                "step": step,
                "statistics": dict(open_store(cfg.data.store).attrs).get("statistics", {}),
                "mlflow_run_id": state["mlflow_run_id"],
            }
            checkpoint.export_generator(
                run_dir / "generator.pt", g, meta, cfg.train.zero_stage, world.rank
            )
    except BaseException:
        status = "FAILED"
        raise
    finally:
        tracker.close(status)
        stop.restore()
    if dist.is_initialized():  # leave together: a launcher may kill the job at the first exit
        dist.barrier()
    return {"step": step, "status": status, "run_id": state["mlflow_run_id"], "requeue": requeue}
