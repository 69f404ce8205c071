"""The quicklook PNG of one scan: IR | synthetic visible (| real visible by day), and the
synthetic panel alone as a frame of an animation.

Drawn for a forecaster, who reads satellite pictures against a map and a fixed scale: a
title with the satellite, sector and scan time (UTC) that says the visible is synthetic;
the IR on a fixed brightness-temperature scale (180-320 K, cold clouds white) with its colour
bar, so that two pictures compare; coastlines, borders and lat/lon lines drawn in the scan's
own geostationary view (``maplines``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import outputs
from ..abi.bands import BANDS, band_number
from .maplines import (
    Frame,
    borders,
    coastlines,
    edge_ticks,
    graticule,
    lat_label,
    lon_label,
)

SOFTWARE = "hpc-vqvae quicklook"  # the PNG's own mark: what --overwrite may replace
BT_RANGE = (180.0, 320.0)  # K: the IR panel's fixed scale
IR_PREFERENCE = ("C13", "C14", "C15", "C11", "C16", "C12", "C10", "C09", "C08", "C07")
SECTOR_NAMES = {"F": "Full Disk", "C": "CONUS", "M1": "Mesoscale-1", "M2": "Mesoscale-2"}
COAST_COLOUR = "#ffd21f"  # yellow: seen on grey IR, white cloud and dark sea alike
GRID_COLOUR = "#3cc8ff"
NO_DATA = "#2b3a67"  # IR pixels without a value (off the disk, flagged)
PANEL_IN = 5.0  # inches per panel
DPI = 100
SYNTHETIC_NOTE = "AI-generated from infrared: not an observation"
BLEND_NOTE = "observed where the sun is up;\nAI-generated from infrared where it has set"


@dataclass(frozen=True)
class Scene:
    """What a picture says about its scan besides the pixels."""

    satellite: str  # G17 (or G17,G18 for a range across a handover)
    sector: str  # F, C, M1, M2
    time: np.datetime64  # scan start (UTC)
    frame: Frame


def satellite_name(code: str) -> str:
    """G17 -> GOES-17 (each of a comma-separated list)."""
    return "/".join(f"GOES-{c.strip()[1:]}" for c in code.split(","))


def time_stamp(t: np.datetime64) -> str:
    """Scan start to the second, marked UTC: 2019-12-01 10:27:27 UTC."""
    return np.datetime_as_string(np.datetime64(t, "s"), unit="s").replace("T", " ") + " UTC"


def visible_label(blended: bool) -> str:
    """What the visible imagery is: the plain prediction, or the day-night blend."""
    return "observed by day, SYNTHETIC by night" if blended else "SYNTHETIC (AI-generated from IR)"


def note(blended: bool) -> str:
    return BLEND_NOTE if blended else SYNTHETIC_NOTE


def heading(scene: Scene) -> str:
    """GOES-17 ABI Mesoscale-1."""
    return f"{satellite_name(scene.satellite)} ABI {SECTOR_NAMES.get(scene.sector, scene.sector)}"


def title(scene: Scene, blended: bool = False) -> str:
    return f"{heading(scene)}   {time_stamp(scene.time)}\nvisible: {visible_label(blended)}"


def ir_band(bands: list[str]) -> str:
    """The band the IR panel shows: the clean longwave window (C13) when the model reads
    it, else the nearest emissive band it does read."""
    for name in IR_PREFERENCE:
        if name in bands:
            return name
    raise ValueError(f"no emissive band among {bands} to show as IR")


def is_quicklook(path: Path) -> bool:
    return outputs.is_png_of(path, SOFTWARE)


def rgb_image(rgb: np.ndarray) -> np.ndarray:
    """(3, H, W) reflectance -> (H, W, 3) display values: clipped to [0, 1], gamma 1/2 (as
    true-colour imagery is shown), no data black."""
    return np.clip(np.nan_to_num(rgb.transpose(1, 2, 0)), 0, 1) ** 0.5


def draw_map(ax, frame: Frame, labels: bool = True) -> None:
    """Coastlines, borders and lat/lon lines on an image axis of ``frame``'s pixels, each
    artist named (``gid``) for what it is. Lines are labelled where they leave the picture
    (latitudes on the left, longitudes at the bottom), or along themselves where the
    picture's edges are off the disk."""
    from matplotlib.collections import LineCollection

    ny, nx = frame.shape
    lon, lat, lon_levels, lat_levels = graticule(frame)
    style = {"colors": GRID_COLOUR, "linewidths": 0.6, "linestyles": ":"}
    ticks = {
        "longitude": edge_ticks(lon[-1], lon_levels),
        "latitude": edge_ticks(lat[:, 0], lat_levels),
    }
    for gid, values, levels, label in (
        ("longitude", lon, lon_levels, lon_label),
        ("latitude", lat, lat_levels, lat_label),
    ):
        if not levels.size:
            continue
        cs = ax.contour(np.ma.masked_invalid(values), levels=levels, **style)
        cs.set_gid(gid)
        where, which = ticks[gid]
        if labels and not where:
            ax.clabel(cs, fmt=label, fontsize=7, inline_spacing=2)
        elif labels:
            axis = ax.xaxis if gid == "longitude" else ax.yaxis
            axis.set_ticks(where, [label(v) for v in which], fontsize=7)
    ax.add_collection(
        LineCollection(borders(frame), colors=COAST_COLOUR, linewidths=0.5, gid="borders")
    )
    ax.add_collection(
        LineCollection(coastlines(frame), colors=COAST_COLOUR, linewidths=0.9, gid="coastlines")
    )
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(ny - 0.5, -0.5)


def figure(
    scene: Scene,
    ir: np.ndarray,
    band: str,
    rgb: np.ndarray,
    real: np.ndarray | None,
    blended: bool = False,
):
    """The quicklook as a matplotlib Figure: IR (``band``, K) on the fixed scale with its
    colour bar, the synthetic visible (``blended``: the day-night blend, labelled so), and
    the real visible where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = 2 if real is None else 3
    fig = plt.figure(figsize=(PANEL_IN * n, PANEL_IN + 1.2))
    grid = fig.add_gridspec(2, n, height_ratios=[1, 0.035], hspace=0.12, wspace=0.04)
    axes = [fig.add_subplot(grid[0, i]) for i in range(n)]
    info = BANDS[band_number(band)]
    grey = plt.get_cmap("gray_r").with_extremes(bad=NO_DATA)  # not white: not a cold cloud
    im = axes[0].imshow(ir, cmap=grey, vmin=BT_RANGE[0], vmax=BT_RANGE[1])
    axes[0].set_title(f"IR {band} ({info.wavelength_um:g} µm), observed")
    bar = fig.colorbar(im, cax=fig.add_subplot(grid[1, 0]), orientation="horizontal")
    bar.set_label(f"{band} brightness temperature (K)")
    axes[1].imshow(rgb_image(rgb))
    axes[1].set_title(f"visible: {visible_label(blended)}", fontweight="bold")
    under = fig.add_subplot(grid[1, 1])
    under.set_axis_off()
    under.text(0.5, 0.5, note(blended), ha="center", va="center", fontsize=9)
    if real is not None:
        axes[2].imshow(rgb_image(real))
        axes[2].set_title("visible, observed")
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        draw_map(ax, scene.frame)
        if i:  # latitudes once, on the left of the row
            ax.set_yticks([])
    fig.suptitle(title(scene, blended), fontsize=12)
    fig.subplots_adjust(left=0.04, right=0.98, top=0.86, bottom=0.08)
    return fig


def quicklook(path: Path, *args, **kwargs) -> None:
    """``figure(*args, **kwargs)`` written to ``path``."""
    import matplotlib.pyplot as plt

    fig = figure(*args, **kwargs)
    fig.savefig(path, dpi=DPI, metadata={"Software": SOFTWARE})
    plt.close(fig)
