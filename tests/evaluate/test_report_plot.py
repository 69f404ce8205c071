"""evaluate's ``--plot``, read back from matplotlib's own objects: the legend lies outside
both axes (over no bar), a solar-zenith bin without a scored pixel says "no data" and a bin
with scores does not, and the PNG carries the tag that lets a later plot replace it."""

from __future__ import annotations

import math

from hpc_vqvae.evaluate.report import NO_DATA, figure, plot
from hpc_vqvae.evaluate.run import PREDICTORS
from hpc_vqvae.outputs import PLOT_SOFTWARE, is_png_of

SCORED = {"30-50": 0.62, "50-65": 0.55, "65-80": 0.41}
BINS = ("0-30", "30-50", "50-65", "65-80", "80-90")  # 0-30 and 80-90 without a pixel


def _report() -> dict:
    def scores(ssim: float, factor: float) -> dict:
        return {"ssim": ssim * factor, "rmse": 0.05 / (ssim * factor)}

    by_sza = {
        b: {
            p: scores(SCORED[b], f) if b in SCORED else None
            for p, f in zip(PREDICTORS, (1.0, 0.8, 0.6), strict=True)
        }
        for b in BINS
    }
    convention = {
        "space": "reflectance factor / cos(solar zenith) clipped to [0, 1.2]",
        "twilight_space": "plain reflectance factor clipped to [0, 1]",
    }
    return {
        "selection": "test split: 4 of the run's 4 recorded test days",
        "convention": convention,
        "by_sza": by_sza,
    }


def test_the_legend_is_outside_every_axes_and_inside_the_figure():
    fig = figure(_report())
    fig.draw_without_rendering()  # the layout placed, as savefig places it
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert len(legends) == 1
    legend = legends[0]
    box = legend.get_window_extent()
    assert [t.get_text() for t in legend.get_texts()] == list(PREDICTORS.values())
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_title()
    full = fig.bbox
    assert full.x0 <= box.x0 and box.x1 <= full.x1 and full.y0 <= box.y0 and box.y1 <= full.y1


def test_a_bin_without_pixels_says_no_data():
    fig = figure(_report())
    for ax in fig.axes:
        marks = [t for t in ax.texts if t.get_text() == NO_DATA]
        at = sorted(BINS[round(t.get_position()[0])] for t in marks)
        assert at == ["0-30", "80-90"], ax.get_title()
        # and no bar stands there to contradict it
        for bar in ax.patches:
            bin_ = BINS[round(bar.get_x() + bar.get_width() / 2)]
            assert math.isnan(bar.get_height()) == (bin_ not in SCORED)
    title = fig.get_suptitle()
    assert "80-90 in plain reflectance factor" in title


def test_the_png_is_tagged_as_ours(tmp_path):
    path = tmp_path / "evaluation.png"
    plot(_report(), path)
    assert is_png_of(path, PLOT_SOFTWARE) and path.stat().st_size > 10_000
