"""The quicklook PNG of one scan: IR | synthetic visible (| real visible by day)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import outputs

SOFTWARE = "hpc-vqvae quicklook"  # the PNG's own mark: what --overwrite may replace


def is_quicklook(path: Path) -> bool:
    return outputs.is_png_of(path, SOFTWARE)


def quicklook(path: Path, ir: np.ndarray, rgb: np.ndarray, real: np.ndarray | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("IR input", -ir, "gray"), ("synthetic visible", rgb, None)]
    if real is not None:
        panels.append(("real visible", real, None))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5))
    for ax, (title, img, cmap) in zip(np.atleast_1d(axes), panels, strict=True):
        if img.ndim == 3:
            img = np.clip(np.nan_to_num(img.transpose(1, 2, 0)), 0, 1) ** 0.5
        ax.imshow(img, cmap=cmap)
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": SOFTWARE})
    plt.close(fig)
