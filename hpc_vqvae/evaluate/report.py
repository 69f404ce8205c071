"""An evaluation's report: one JSON object (the paper's table for the model, the baselines
beside it, intervals over days, the breakdowns, the convention it was scored in), the same as
a table, a plot, and MLflow metrics."""

from __future__ import annotations

from pathlib import Path

from .. import outputs
from ..metrics import Scores
from .bootstrap import LEVEL, RESAMPLES, SEED, intervals
from .run import KEYS, PREDICTORS, TWILIGHT, Evaluation

FEW_DAYS = 10  # below this a bootstrap over days has too few distinct resamples to trust


def summary(ev: Evaluation, extra: dict, lpips_reason: str | None) -> dict:
    """``--format json``: top-level ssim, psnr, rmse, mae, lpips of the model; ``baseline``
    (least squares) and ``baseline_grey`` (inverted IR) with the same keys; ``by_sza``,
    ``by_month``, ``by_hour`` per predictor; per channel under ``channels``; ``ci``: 95%
    intervals from a bootstrap over days, and model-minus-baseline differences with theirs;
    ``by_day``: each day's scores; ``saturated_by_sza``: the share of pixels whose target
    sits at the clip."""
    scores = ev.groups
    model = scores["model"]["all"]
    report = {
        **_metrics(model),
        "lpips_reason": lpips_reason,
        "pixels": int(model["pixels"]),
        "images": int(model["images"]),
        "days": len(ev.days),
        **extra,
        "baseline": _metrics(scores["baseline"]["all"]),
        "baseline_grey": _metrics(scores["baseline_grey"]["all"]),
        **(
            {
                "compared": _metrics(scores["compared"]["all"]),
                "compared_label": ev.predictors["compared"],
            }
            if "compared" in scores
            else {}
        ),
        "ci": intervals(ev.day_sums, list(ev.predictors), ev.data_range),
        "bootstrap": {
            "unit": "local solar day",
            "resamples": RESAMPLES,
            "seed": SEED,
            "level": LEVEL,
        },
    }
    for kind in ("sza", "month", "hour"):
        keys = [k for k in scores["model"] if k.startswith(kind + " ")]
        if keys:
            report[f"by_{kind}"] = {
                k.split(" ", 1)[1]: {p: _metrics(scores[p][k]) for p in ev.predictors} for k in keys
            }
    report["saturated_by_sza"] = ev.saturated
    report["by_day"] = {
        str(day): {p: _metrics(_day(ev, i, d)) for i, p in enumerate(ev.predictors)}
        for d, day in enumerate(ev.days)
    }
    return report


def _day(ev: Evaluation, predictor: int, day: int) -> dict:
    scores = Scores("cpu", data_range=ev.data_range)
    scores.sums = ev.day_sums[predictor, day]
    return scores.result()


def _metrics(result: dict) -> dict | None:
    if result["images"] == 0:  # nothing of this breakdown among the scans
        return None
    out = {k: round(result[k], 6) for k in KEYS}
    out["lpips"] = round(result["lpips"], 6) if "lpips" in result else None
    out["channels"] = {c: {k: round(result[f"{k}_{c}"], 6) for k in KEYS} for c in ("R", "G", "B")}
    return out


def table(report: dict) -> str:
    rows = [
        ("", "SSIM", "PSNR", "PSNR pooled", "RMSE", "MAE", "LPIPS"),
        *[
            (
                label,
                *(f"{r[k]:.4f}" for k in ("ssim", "psnr", "psnr_pooled", "rmse", "mae")),
                "-" if r["lpips"] is None else f"{r['lpips']:.4f}",
            )
            for label, r in _rows(report)
        ],
    ]
    conv = report["convention"]
    few = report["days"] < FEW_DAYS
    held = "IN-SAMPLE (training or buffer days)" if report["in_sample"] else "held out"
    lines = [
        f"{report['selection']} ({held}): {report['scans']} scans on {report['days']} days, "
        f"{report['pixels']} daytime pixels (sza < {report['target_sza_max']})",
        f"convention {conv['name']}: {conv['space']}, data range {conv['data_range']}",
        *_grid(rows),
        "",
        f"95% intervals, bootstrap over {report['days']} days ({report['bootstrap']['resamples']}"
        " resamples):" + (" too few days for the intervals to mean much" if few else ""),
    ]
    ci = report["ci"]
    for (label, _), p in zip(_rows(report), ("model", *_others(report)), strict=True):
        lines.append(f"  {label:<26} " + "  ".join(_ci(k, ci[p][k]) for k in ("ssim", "rmse")))
    for (label, _), p in zip(_rows(report)[1:], _others(report), strict=True):
        d = ci[f"model_minus_{p}"]
        lines.append(
            f"  model - {label:<17} "
            + "  ".join(_ci(k, d[k][1:], d[k][0]) for k in ("ssim", "psnr", "rmse"))
        )
    if "by_sza" in report:
        lines += ["", "by solar zenith (deg): SSIM / RMSE of model | least squares | inverted IR"]
        for bin_, r in report["by_sza"].items():
            cells = " | ".join(
                "-" if r[p] is None else f"{r[p]['ssim']:.3f} / {r[p]['rmse']:.4f}"
                for p in ("model", "baseline", "baseline_grey")
            )
            share = report["saturated_by_sza"].get(bin_)
            clip = "" if share is None else f"  (target at its clip: {100 * share:.1f}%)"
            lines.append(f"  {bin_:>6}  {cells}{clip}")
        lines.append(f"  {TWILIGHT.split(' ')[1]} scored in {conv['twilight_space']}")
    if report.get("lpips_reason"):
        lines.append(f"LPIPS: {report['lpips_reason']}")
    return "\n".join(lines)


def _others(report: dict) -> list[str]:
    return ["baseline", "baseline_grey", *(["compared"] if "compared" in report else [])]


def _rows(report: dict) -> list[tuple[str, dict]]:
    rows = [("model", report), ("least squares", report["baseline"]),
            ("inverted IR", report["baseline_grey"])]  # fmt: skip
    if "compared" in report:
        rows.append((report["compared_label"], report["compared"]))
    return rows


def _ci(key: str, bounds: list, point: float | None = None) -> str:
    lo, hi = bounds
    if lo is None:
        return f"{key.upper()} -"
    head = "" if point is None else f"{point:+.4f} "
    return f"{key.upper()} {head}[{lo:.4f}, {hi:.4f}]"


def _grid(rows) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]


def mlflow_metrics(report: dict) -> dict[str, float]:
    """``eval/ssim`` ..., ``eval/baseline/ssim`` ..., ``eval/sza_80-90/ssim`` ... (model), under
    ``eval/paper/`` for the paper's convention and ``.../in_sample/`` for in-sample days: one
    key never holds two kinds of score."""
    root = "eval/" + ("paper/" if report["convention"]["name"] == "paper" else "")
    root += "in_sample/" if report["in_sample"] else ""
    out = {}
    for key in (*KEYS, "lpips"):
        for prefix, r in ((root, report), (f"{root}baseline/", report["baseline"]),
                          (f"{root}baseline_grey/", report["baseline_grey"])):  # fmt: skip
            if r.get(key) is not None:
                out[prefix + key] = r[key]
    for bin_, r in report.get("by_sza", {}).items():
        if r["model"] is not None:
            out.update({f"{root}sza_{bin_}/{k}": r["model"][k] for k in KEYS})
    return out


NO_DATA = "no data"  # written in a solar-zenith bin without a scored pixel
BAR = 0.27  # a bar's width; a bin's group of three spans 0.81 of the unit between bins


def plot(report: dict, path: Path) -> None:
    """``--plot``: the figure of ``figure`` as a PNG, tagged as ours (``outputs.check_plot``)."""
    figure(report).savefig(path, dpi=90, metadata={"Software": outputs.PLOT_SOFTWARE})


def figure(report: dict):
    """SSIM and RMSE by solar zenith, a bar per predictor. The legend sits below the axes,
    where no bar can be under it; a bin without a scored pixel says "no data", since an
    empty place reads as a score too small to see. The title names the space of the scores,
    and twilight's where it differs (as the table does). A matplotlib ``Figure`` without pyplot:
    no global state, nothing to close, and a test can read its parts."""
    from matplotlib.figure import Figure

    bins = list(report["by_sza"])
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("ssim", "rmse"), strict=True):
        for i, (p, label) in enumerate(PREDICTORS.items()):
            x = [j + (i - 1) * BAR for j in range(len(bins))]
            values = [(report["by_sza"][b][p] or {}).get(key, float("nan")) for b in bins]
            ax.bar(x, values, width=BAR, label=label)
        for j, b in enumerate(bins):
            if all(report["by_sza"][b][p] is None for p in PREDICTORS):
                ax.text(j, 0.5, NO_DATA, transform=ax.get_xaxis_transform(), ha="center",
                        va="center", color="0.4", fontsize=8, style="italic")  # fmt: skip
        ax.set_xticks(range(len(bins)), bins)
        ax.set_xlim(-0.6, len(bins) - 0.4)
        ax.set_xlabel("solar zenith (deg)")
        ax.set_title(key.upper())
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    conv = report["convention"]
    twilight = conv.get("twilight_space", conv["space"])
    other = "" if twilight == conv["space"] else f"; {TWILIGHT.split(' ')[1]} in {twilight}"
    fig.suptitle(f"{report['selection']}\n{conv['space']}{other}", fontsize=9)
    return fig
