"""The training loop, top to bottom: set up (or resume), then for each step a generator and a
discriminator update, logging, validation and checkpoints, until max_steps or a stop."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import torch

from .. import tracking
from ..data import make_loader
from ..data.preflight import TrainingData, shared_training_data
from ..distributed import any_rank, barrier, leave
from ..errors import UsageError
from ..model import VQGANLoss, build_discriminator, build_generator
from ..world import detect, setup
from . import checkpoint, rundir, speed
from .config import Config
from .engines import build_engines, set_lr
from .report import Reporter
from .schedule import lr_factor
from .speed import to_device
from .steps import train_step
from .validation import validate


def train(
    cfg: Config,
    run_dir: Path,
    *,
    resume: str = "auto",
    stop_after: int | None = None,
    overwrite: bool = False,
    register: str | None = None,
) -> dict:
    """Train on every rank of the job; returns {"step", "status", "run_id", "experiment_id",
    "requeue"}, where ``requeue`` says that a SIGUSR2 stopped the run after a checkpoint, so
    it should go on. A run dir that is not ours, or is being written by another job, is a
    UsageError. At the end the generator is logged as the run's MLflow model, registered as
    ``register``."""
    world = detect()
    device = setup(world)
    try:  # both refusals are decided by rank 0 and raised on every rank
        data = shared_training_data(cfg.data)  # read by rank 0, before anything is written
        if world.is_main:
            print(data.describe(), flush=True)
        lock = rundir.claim(run_dir, overwrite, world.rank)
    except UsageError:
        leave()  # a rank that exits with its gloo group open can abort (SIGABRT) the job
        raise
    try:
        return _train(cfg, data, run_dir, world, device, resume, stop_after, register)
    finally:
        lock.release()


def _train(
    cfg: Config,
    data: TrainingData,
    run_dir: Path,
    world,
    device,
    resume: str,
    stop_after: int | None,
    register,
) -> dict:
    stop, run = StopFlag(), cfg.train

    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
    model, disc = build_generator(cfg.model), build_discriminator(cfg.model)
    speed.apply(model, disc, cfg.train.compile)
    loss_fn = VQGANLoss(cfg.loss).to(device).train()
    g, d = build_engines(cfg, model, disc, world.size, device)
    resumed = checkpoint.resume_path(resume, run_dir)
    state = checkpoint.load(resumed, g, d, world.rank) if resumed else checkpoint.TrainState()
    uri = tracking.for_training(run_dir, cfg.train.tracking_uri)  # once, for the whole run
    record = checkpoint.write_run_record(run_dir, cfg, data, world.rank, uri)  # first: ours
    report = Reporter(cfg, run_dir, world, device, state, uri)
    report.started(cfg, world, resumed)
    report.run_record(record)

    loader = make_loader(cfg.data, "train", run.batch_size, world.rank, world.size, data=data)
    val_crops = run.val_batches * run.batch_size * world.size  # spread over the block
    val_loader = make_loader(
        cfg.data, "val", run.batch_size, world.rank, world.size, limit=val_crops, data=data
    )
    batches = _batches(loader, state.epoch, state.batch)
    peak, first = cfg.learning_rate(world.size), state.step
    status, requeue = "FINISHED", False
    checkpoint.seed_rng(state, run.seed + world.rank)  # last: nothing above can shift it
    try:
        while state.step < run.max_steps:
            t0 = time.perf_counter()
            lr = peak * lr_factor(state.step, cfg.optim, run.max_steps)
            set_lr(g, lr)
            set_lr(d, lr * cfg.optim.disc_lr_scale)
            for _ in range(run.grad_accum):
                state.epoch, index, batch = next(batches)
                log = train_step(
                    g, d, loss_fn, to_device(batch, device, run.channels_last), state.step
                )
            state.step, state.batch = state.step + 1, index + 1

            if state.step % run.log_every == 0 or state.step == first + 1:
                samples = run.batch_size * run.grad_accum * world.size
                log["train/lr"] = lr
                log["train/samples_per_s"] = samples / (time.perf_counter() - t0)
                report.train_step(log, state.step)
            if state.step % run.val_every == 0 or state.step == run.max_steps:
                metrics, first_batch = validate(
                    g, val_loader, loader.dataset.transform, device, loss_fn.lpips
                )
                report.validation(metrics, first_batch, state.step)
            over = stop_after is not None and state.step - first >= stop_after
            stop_now = any_rank(stop.requested or over, device)
            if state.step % run.ckpt_every == 0 or stop_now or state.step == run.max_steps:
                checkpoint.save(run_dir, state, g, d, world.rank)
            if stop_now:
                status = "KILLED"
                requeue = any_rank(stop.signum == signal.SIGUSR2, device)
                report.stopped(state.step)
                break

        report.resources(world.rank, g, d)
        if state.step >= run.max_steps:
            export = checkpoint.export_generator(run_dir, g, state, world.rank)
            report.model(export, state.step, register)
    except BaseException:
        status = "FAILED"
        raise
    finally:
        report.close(status)
        stop.restore()
    barrier()  # leave together: a launcher may kill the job at the first exit
    return {
        "step": state.step,
        "status": status,
        "run_id": state.mlflow_run_id,
        "experiment_id": report.tracker.experiment_id,  # rank 0's (None elsewhere)
        "requeue": requeue,
    }


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
