"""What a run tells its user: the start line, per-step metrics (averaged over ranks) to
MLflow, ``metrics.jsonl`` and the console, validation with a sample grid, the stop line, and
at the end where its runs are in MLflow's UI.
Rank 0 reports; every rank takes part in the averaging, which is collective."""

from __future__ import annotations

import json
import resource
import warnings
from pathlib import Path

import torch

from ..distributed import all_reduce_, broadcast_object
from ..runs import layout
from ..tracking import RUN_DIR_TAG, runs_link
from ..world import World
from .checkpoint import TrainState
from .config import Config
from .engines import optimizer_state_bytes, precision
from .tracker import NullTracker, Tracker, run_tags
from .validation import sample_grid, usage_plot


class Reporter:
    def __init__(
        self, cfg: Config, run_dir: Path, world: World, device: str, state: TrainState, uri: str
    ):
        """Opens (or, resumed, continues) the MLflow run at ``uri`` (the loop's, resolved once)
        on rank 0 and shares its id."""
        self.run_dir, self.device, self.main, self.uri = run_dir, device, world.is_main, uri
        self.tracker: Tracker | NullTracker = NullTracker()
        if self.main:
            self.tracker = Tracker(
                self.uri,
                cfg.train.experiment,
                run_dir.name,
                run_id=state.mlflow_run_id,
                params={
                    **cfg.flat(),
                    "world_size": world.size,
                    "lr": cfg.learning_rate(world.size),
                },
                tags={**run_tags(world.launcher), RUN_DIR_TAG: str(run_dir.resolve())},
            )
        state.mlflow_run_id = broadcast_object(self.tracker.run_id)

    def started(self, cfg: Config, world: World, resumed: Path | None) -> None:
        """The start line; the resolved config (every default filled in) as ``config.yaml``."""
        self.tracker.log_dict(cfg.model_dump(mode="json"), "config.yaml")
        if self.main:
            print(cfg.describe_lr(world.size), flush=True)
            self._say(
                f"run {self.run_dir} | {world.size} rank(s) via {world.launcher} on "
                f"{self.device} | ZeRO {cfg.train.zero_stage} {precision(cfg, self.device)} | "
                f"MLflow {self.uri} run {self.tracker.run_id}"
                + (f" | resumed from {resumed.name}" if resumed else "")
            )

    def run_record(self, path: Path) -> None:
        """The run's record (config, training-day statistics, store, day split) as an MLflow
        artifact, and the split's size as parameters."""
        if not self.main:
            return
        split = json.loads(path.read_text())["split"]
        self.tracker.log_params(
            {f"split.{role}_days": len(split[f"{role}_days"]) for role in ("train", "val", "test")}
            | {"split.day_counting": split["day_counting"]}
        )
        self.tracker.log_artifact(path)
        self.tracker.log_dict(split, "split.json")

    def train_step(self, log: dict, step: int) -> None:
        """Collective: the step's metrics, averaged over ranks."""
        logged = _mean_over_ranks(log, self.device)
        self.tracker.log_metrics(logged, step)
        if self.main:
            with (self.run_dir / layout.METRICS).open("a") as f:
                f.write(json.dumps({"step": step, **logged}) + "\n")
            codes = ""  # a generator without a codebook (the U-Net) has no perplexity
            if "train/perplexity" in logged:
                codes = f" perplexity {logged['train/perplexity']:.1f}"
            self._say(
                f"step {step}: rec {logged['train/rec_loss']:.4f}{codes} "
                f"lr {logged['train/lr']:.2e}"
            )

    def validation(self, metrics: dict, first_batch: dict, step: int) -> None:
        self.tracker.log_metrics(metrics, step)
        if self.main:
            self._say(
                f"step {step}: val rmse {metrics['val/rmse']:.4f} ssim {metrics['val/ssim']:.4f}"
            )
            grid = sample_grid(first_batch, self.run_dir / layout.SAMPLES, step)
            self.tracker.log_image(grid, "samples", step)
            if "code_counts" in first_batch:  # validation counts codes where the model has them
                counts = first_batch["code_counts"]
                usage = usage_plot(counts, self.run_dir / layout.SAMPLES, step)
                self.tracker.log_image(usage, "codebook_usage", step)

    def model(self, export: Path, step: int, register: str | None) -> None:
        """The exported generator as the run's MLflow model (registered as ``register``); a
        tracking server that fails here costs the model entry, never the finished run."""
        if not self.main:
            return
        from .mlflow_model import log_generator

        meta = layout.export_meta(self.run_dir, step, self.tracker.run_id)
        try:
            uri = log_generator(self.uri, self.tracker.run_id, export, meta, register)
        except Exception as err:  # noqa: BLE001
            warnings.warn(f"MLflow model not logged ({type(err).__name__}: {err})", stacklevel=1)
            return
        self._say(f"MLflow model {uri}" + (f", registered as {register!r}" if register else ""))

    def stopped(self, step: int) -> None:
        self._say(f"stopped at step {step}; checkpoint saved, resume with --resume auto")

    def resources(self, rank: int, g, d) -> None:
        """Per-rank memory figures for benchmarks: optimizer state held here and peak RSS."""
        info = {
            "optimizer_state_mb": (optimizer_state_bytes(g) + optimizer_state_bytes(d)) / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if torch.cuda.is_available():
            info["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        (self.run_dir / layout.RESOURCES.format(rank=rank)).write_text(json.dumps(info))

    def close(self, status: str) -> None:
        """Ends the MLflow run, then says where its runs are in the UI (``tracking.runs_link``)."""
        self.tracker.close(status)
        link = self.tracker.experiment_id and runs_link(self.uri, self.tracker.experiment_id)
        if link:
            self._say(f"MLflow runs: {link}")

    def _say(self, line: str) -> None:
        if self.main:
            print(line, flush=True)


def _mean_over_ranks(log: dict, device: str) -> dict[str, float]:
    keys = sorted(log)
    t = torch.tensor([float(log[k]) for k in keys], device=device, dtype=torch.float64)
    return dict(zip(keys, all_reduce_(t, "mean").tolist(), strict=True))
