"""``python -m hpc_vqvae.compare --experiment NAME [NAME ...]``: runs side by side, beside
the MLflow UI.

Prints the parameters that differ between the runs and each metric's final and best value,
as a table or JSON, and with ``--plot curves.png`` draws the metric curves over steps. Best
is the lowest of a loss or an error (RMSE, MAE, LPIPS), the highest of SSIM, PSNR or
throughput; perplexity, codebook usage and the rest describe a run rather than rank it, and
have no best. Last, on stderr, where each experiment's runs are in MLflow's UI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import outputs, tracking
from .cli import exit_code
from .errors import UsageError

HIGHER_IS_BETTER = ("ssim", "psnr", "samples_per_s")
LOWER_IS_BETTER = ("loss", "rmse", "mae", "lpips")
DEFAULT_METRICS = ("train/rec_loss", "train/perplexity", "val/rmse", "val/ssim")


def direction(name: str) -> str | None:
    """ "max", "min", or None for a metric that is not ranked (perplexity, usage, lr, ...)."""
    leaf = name.rsplit("/", 1)[-1].lower()
    if any(k in leaf for k in HIGHER_IS_BETTER):
        return "max"
    if any(k in leaf for k in LOWER_IS_BETTER):
        return "min"
    return None


def best(name: str, values: list[float]) -> float | None:
    way = direction(name)
    return None if way is None else (max(values) if way == "max" else min(values))


def _experiments(client, names: list[str]) -> dict[str, str]:
    """Experiment id -> name; an unknown name is one line."""
    out = {}
    for name in names:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise UsageError(f"no MLflow experiment named {name!r} at {client.tracking_uri}")
        out[exp.experiment_id] = name
    return out


def collect(
    client, experiments: list[str], run_ids: list[str] | None, metrics: list[str]
) -> list[dict]:
    by_id = _experiments(client, experiments)
    runs = [client.get_run(r) for r in run_ids] if run_ids else client.search_runs(list(by_id))
    out = []
    for run in runs:
        entry = {
            "run_id": run.info.run_id,
            "experiment": by_id.get(run.info.experiment_id, run.info.experiment_id),
            "name": run.info.run_name,
            "status": run.info.status,
            "params": dict(run.data.params),
            "metrics": {},
        }
        for name in metrics:
            history = sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
            if history:
                values = [m.value for m in history]
                entry["metrics"][name] = {
                    "final": values[-1],
                    "best": best(name, values),
                    "steps": [m.step for m in history],
                    "values": values,
                }
        out.append(entry)
    return out


def differing_params(runs: list[dict]) -> list[str]:
    keys = sorted({k for r in runs for k in r["params"]})
    return [k for k in keys if len({r["params"].get(k) for r in runs}) > 1]


def table(runs: list[dict], metrics: list[str]) -> str:
    params = differing_params(runs)
    several = len({r["experiment"] for r in runs}) > 1
    head = ["run", *(["experiment"] * several), "status", *params]
    for m in metrics:
        head += [f"{m} final"] + ([f"{m} best ({direction(m)})"] if direction(m) else [])
    rows = []
    for r in runs:
        row = [r["name"] or r["run_id"][:8], *([r["experiment"]] * several), r["status"]]
        row += [r["params"].get(p, "") for p in params]
        for m in metrics:
            got, ranked = r["metrics"].get(m), direction(m) is not None
            row.append(f"{got['final']:.4g}" if got else "")
            if ranked:
                row.append(f"{got['best']:.4g}" if got else "")
        rows.append([str(c) for c in row])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def plot(runs: list[dict], metrics: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        for r in runs:
            if m in r["metrics"]:
                ax.plot(r["metrics"][m]["steps"], r["metrics"][m]["values"], label=r["name"])
        ax.set_title(m)
        ax.set_xlabel("step")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": outputs.PLOT_SOFTWARE})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.compare", description=__doc__.splitlines()[0]
    )
    p.add_argument("--experiment", nargs="+", required=True, help="one or more experiments")
    p.add_argument("--runs", nargs="*", help="run ids (default: every run of the experiments)")
    p.add_argument("--metrics", nargs="*", default=list(DEFAULT_METRICS))
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--plot", type=Path, help="write the metric curves to this PNG")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI")
    args = p.parse_args(argv)
    return exit_code(lambda: _compare(args))


def _compare(args: argparse.Namespace) -> int:
    uri = tracking.resolve(args.tracking_uri)
    outputs.check_plot(args.plot)
    if uri is not None:
        tracking.require(uri)
    client = tracking.client(uri)
    runs = collect(client, args.experiment, args.runs, args.metrics)
    if not runs:
        raise UsageError(f"experiment(s) {', '.join(args.experiment)} have no runs")
    if args.format == "json":
        slim = [
            {
                **r,
                "metrics": {
                    k: {"final": v["final"], "best": v["best"]} for k, v in r["metrics"].items()
                },
            }
            for r in runs
        ]
        print(json.dumps({"differing_params": differing_params(runs), "runs": slim}, indent=2))
    else:
        print(table(runs, args.metrics))
    if args.plot:
        plot(runs, args.metrics, args.plot)
        print(f"curves written to {args.plot}", file=sys.stderr)
    for exp_id, name in _experiments(client, args.experiment).items():
        link = tracking.runs_link(client.tracking_uri, exp_id)
        if link:  # on stderr, as the plot's line: stdout stays the table or the JSON
            print(f"MLflow runs of {name}: {link}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
