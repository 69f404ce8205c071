"""Inference tiles a scan and blends the tiles (``translate_batch``): a pixel at the scan's
edge must come out as an interior pixel does. The tiling is run with a plain 5x5 box
filter (zero-padded, as the networks' convolutions are) as the network: the tiled output
must equal the filter applied to the whole scan, edges and seams included. The tiling
before this test took the edge pixels from the edge tiles' zero-padded borders alone (the
filter's output there was off by up to 0.44 on values of ~0.3) and let those borders into
the blend inside (seams off by up to 0.06)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hpc_vqvae.model.config import ModelConfig
from hpc_vqvae.model.translator import blend_window, tile_corners, translate_batch

RADIUS = 2  # a 5x5 box


class BoxFilter(torch.nn.Module):
    """A mean over each pixel's 5x5 neighbourhood, channel by channel, zero-padded: the
    network's interface (the VQModel's triple, ``cfg.out_channels``), no learning."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.cfg = ModelConfig(out_channels=channels)
        k = 2 * RADIUS + 1
        self.register_buffer("kernel", torch.full((channels, 1, k, k), 1.0 / k**2))

    def forward(self, x: torch.Tensor):
        out = F.conv2d(x, self.kernel, padding=RADIUS, groups=x.shape[1])
        return out, torch.zeros(()), {}


def _smooth_scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Three channels of smooth structure plus pixel noise, in the network range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 17.0
    base = np.stack([np.sin(xx + c) * np.cos(yy * 0.7 - c) for c in range(3)])
    return (0.8 * base + 0.1 * rng.standard_normal((3, h, w)))[None].astype(np.float32)


def _whole(ir: np.ndarray) -> np.ndarray:
    """The filter on the whole scan, mirrored at its edges: what no tiling would give."""
    x = F.pad(torch.from_numpy(ir), (RADIUS,) * 4, mode="reflect")
    k = BoxFilter().kernel
    return F.conv2d(x, k, groups=3).numpy()


@pytest.mark.parametrize("shape", [(100, 90), (500, 500), (40, 33), (20, 20)])
def test_tiles_blend_without_seams_at_edges_or_inside(shape):
    ir = _smooth_scene(*shape)
    got = translate_batch(BoxFilter().eval(), ir, tile=32)
    want = _whole(ir)
    assert got.shape == ir.shape[:1] + (3, *shape)
    err = np.abs(got - want)
    edges = np.zeros(shape, bool)
    edges[:8], edges[-8:], edges[:, :8], edges[:, -8:] = True, True, True, True
    assert err[..., edges].max() < 1e-5, "the scan's edge pixels differ from the whole scan's"
    assert err.max() < 1e-5, "seams between tiles"


def test_every_pixel_has_a_clean_tile_and_the_corners_cover_the_scan():
    tile = 32
    w = blend_window(tile, tile // 4)
    assert w[0, :].max() == 0 and w[:, 1].max() == 0, "the outermost pixels are not used"
    assert w[16, 16] == 1 and np.all(np.diff(w[16, :16]) >= 0)
    for size in (20, 33, 100, 500):
        corners = tile_corners(size, tile)
        assert corners[0] == -tile // 4 and corners[-1] + tile == size + tile // 4
        total = np.zeros(size)
        for c in corners:
            lo, hi = max(c, 0), min(c + tile, size)
            total[lo:hi] += w[16, lo - c : hi - c]
        assert total.min() > 0.5, f"size {size}: a pixel with only border weight"
