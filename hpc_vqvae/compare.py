"""``python -m hpc_vqvae.compare --experiment NAME``: runs side by side, beside the MLflow UI.

Prints the parameters that differ between the runs and each metric's final and best value
(lowest for losses and errors, highest for SSIM, PSNR, perplexity and usage), as a table or
JSON, and with ``--plot curves.png`` draws the metric curves over steps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HIGHER_IS_BETTER = ("ssim", "psnr", "perplexity", "usage", "samples_per_s")
DEFAULT_METRICS = ("train/rec_loss", "train/perplexity", "val/rmse", "val/ssim")


def _best(name: str, values: list[float]) -> float:
    return max(values) if any(k in name for k in HIGHER_IS_BETTER) else min(values)


def collect(client, experiment: str, run_ids: list[str] | None, metrics: list[str]) -> list[dict]:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(
            f"error: no MLflow experiment named {experiment!r} at {client.tracking_uri}"
        )
    runs = (
        [client.get_run(r) for r in run_ids] if run_ids else client.search_runs([exp.experiment_id])
    )
    out = []
    for run in runs:
        entry = {
            "run_id": run.info.run_id,
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
                    "best": _best(name, values),
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
    head = [
        "run",
        "status",
        *params,
        *[f"{m} {kind}" for m in metrics for kind in ("final", "best")],
    ]
    rows = []
    for r in runs:
        row = [r["name"] or r["run_id"][:8], r["status"], *[r["params"].get(p, "") for p in params]]
        for m in metrics:
            got = r["metrics"].get(m)
            row += [f"{got['final']:.4g}", f"{got['best']:.4g}"] if got else ["", ""]
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
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hpc_vqvae.compare", description=__doc__.splitlines()[0]
    )
    p.add_argument("--experiment", required=True)
    p.add_argument("--runs", nargs="*", help="run ids (default: every run of the experiment)")
    p.add_argument("--metrics", nargs="*", default=list(DEFAULT_METRICS))
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--plot", type=Path, help="write the metric curves to this PNG")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI")
    args = p.parse_args(argv)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.tracking_uri)
    runs = collect(client, args.experiment, args.runs, args.metrics)
    if not runs:
        print(f"error: experiment {args.experiment!r} has no runs", file=sys.stderr)
        return 2
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
